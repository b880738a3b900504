//! The README's examples stay true: its `missions.toml` parses.

#[test]
fn the_readme_configuration_parses() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let section = readme.find("## Configuration: `missions.toml`").expect("the configuration section");
    let start = section + readme[section..].find("```toml\n").expect("a toml block") + "```toml\n".len();
    let block = &readme[start..start + readme[start..].find("```").unwrap()];
    let config = missions::config::MissionsConfig::parse(block, "README.md").expect("README's missions.toml parses");
    assert_eq!(config.limits.max_validation_rounds, 4);
}
