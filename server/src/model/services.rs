//! `services.yaml` in droid's shape: `commands:` (install, typecheck, build, test, lint: shell
//! commands the scrutiny validator runs) and `services:` (name -> start, stop, healthcheck,
//! port, depends_on: what user testing needs running). Unknown keys are ignored; a scalar
//! where a command belongs (`lint: true`) is read as its text.

use serde_json::Value;

pub use super::folder::SERVICES_FILE;

/// The commands the scrutiny validator runs, in this order, when services.yaml has them.
pub const REVIEW_COMMANDS: [&str; 3] = ["test", "typecheck", "lint"];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServicesFile {
    /// In the file's order.
    pub commands: Vec<(String, String)>,
    /// In the file's order.
    pub services: Vec<Service>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    pub start: String,
    pub stop: Option<String>,
    /// A command that exits 0 once the service is up.
    pub healthcheck: Option<String>,
    pub port: Option<u16>,
    pub depends_on: Vec<String>,
}

impl ServicesFile {
    pub fn command(&self, name: &str) -> Option<&str> {
        self.commands.iter().find(|(n, _)| n == name).map(|(_, c)| c.as_str())
    }

    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }

    /// `wanted` (every service when empty) and everything they depend on, dependencies
    /// first; an unknown name or a dependency cycle is an error naming it.
    pub fn start_order(&self, wanted: &[&str]) -> Result<Vec<&Service>, String> {
        let roots: Vec<&str> =
            if wanted.is_empty() { self.services.iter().map(|s| s.name.as_str()).collect() } else { wanted.to_vec() };
        let mut order: Vec<&Service> = Vec::new();
        // Iterative depth-first walk; `path` holds the chain being visited, for cycles.
        for root in roots {
            let mut path: Vec<(&str, usize)> = vec![(root, 0)];
            while let Some(&(name, next)) = path.last() {
                let service = self.service(name).ok_or_else(|| match path.len() {
                    1 => format!("no service `{name}` in {SERVICES_FILE}"),
                    n => format!(
                        "service `{}` depends on `{name}`, which {SERVICES_FILE} does not define",
                        path[n - 2].0
                    ),
                })?;
                if order.iter().any(|s| s.name == name) {
                    path.pop();
                    continue;
                }
                match service.depends_on.get(next) {
                    Some(dep) => {
                        if let Some(last) = path.last_mut() {
                            last.1 += 1;
                        }
                        if let Some(at) = path.iter().position(|(n, _)| n == dep) {
                            let cycle: Vec<&str> = path[at..].iter().map(|(n, _)| *n).chain([dep.as_str()]).collect();
                            return Err(format!("services depend on each other in a cycle: {}", cycle.join(" -> ")));
                        }
                        path.push((dep, 0));
                    }
                    None => {
                        order.push(service);
                        path.pop();
                    }
                }
            }
        }
        Ok(order)
    }
}

/// Reads services.yaml; the error names the line and what is wrong.
pub fn parse(text: &str) -> Result<ServicesFile, String> {
    if text.trim().is_empty() {
        return Ok(ServicesFile::default());
    }
    let root: Value = serde_saphyr::from_str(text).map_err(|e| format!("{SERVICES_FILE} is not valid YAML: {e}"))?;
    let root = match root {
        Value::Object(map) => map,
        Value::Null => return Ok(ServicesFile::default()),
        other => {
            return Err(format!(
                "{SERVICES_FILE} must be a mapping with `commands:` and `services:`, not {}",
                kind(&other)
            ))
        }
    };
    let mut file = ServicesFile::default();
    match root.get("commands") {
        None | Some(Value::Null) => {}
        Some(Value::Object(commands)) => {
            for (name, value) in commands {
                if let Some(command) = scalar(value) {
                    file.commands.push((name.clone(), command));
                } else if !value.is_null() {
                    return Err(format!(
                        "{SERVICES_FILE}: `commands.{name}` must be a command line, not {}",
                        kind(value)
                    ));
                }
            }
        }
        Some(other) => {
            return Err(format!(
                "{SERVICES_FILE}: `commands` must be a mapping of name to command, not {}",
                kind(other)
            ))
        }
    }
    match root.get("services") {
        None | Some(Value::Null) => {}
        Some(Value::Object(services)) => {
            for (name, value) in services {
                file.services.push(service(name, value)?);
            }
        }
        Some(other) => {
            return Err(format!(
                "{SERVICES_FILE}: `services` must be a mapping of name to service, not {}",
                kind(other)
            ))
        }
    }
    Ok(file)
}

fn service(name: &str, value: &Value) -> Result<Service, String> {
    let Value::Object(fields) = value else {
        return Err(format!(
            "{SERVICES_FILE}: service `{name}` must be a mapping (start, stop, healthcheck, port, depends_on), not {}",
            kind(value)
        ));
    };
    let text = |key: &str| -> Result<Option<String>, String> {
        match fields.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => scalar(v).map(Some).ok_or_else(|| {
                format!("{SERVICES_FILE}: `services.{name}.{key}` must be a command line, not {}", kind(v))
            }),
        }
    };
    let start = text("start")?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| format!("{SERVICES_FILE}: service `{name}` has no `start` command"))?;
    let port = match fields.get("port") {
        None | Some(Value::Null) => None,
        Some(v) => Some(scalar(v).and_then(|p| p.trim().parse::<u16>().ok()).filter(|p| *p > 0).ok_or_else(|| {
            format!(
                "{SERVICES_FILE}: `services.{name}.port` must be a port number, not {}",
                scalar(v).unwrap_or_else(|| kind(v).to_string())
            )
        })?),
    };
    let depends_on = match fields.get("depends_on") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(names)) => names
            .iter()
            .map(|n| {
                n.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{SERVICES_FILE}: `services.{name}.depends_on` must list service names"))
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(format!(
                "{SERVICES_FILE}: `services.{name}.depends_on` must list service names, not {}",
                kind(other)
            ))
        }
    };
    Ok(Service {
        name: name.to_string(),
        start,
        stop: text("stop")?,
        healthcheck: text("healthcheck")?,
        port,
        depends_on,
    })
}

/// A string, number or boolean as its text.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DROID: &str = "commands:\n  install: 'true'\n  test: python3 -m unittest -q\n  typecheck: 'true'\n  lint: true\n\nservices: {}\n";

    #[test]
    fn droids_file_reads() {
        let f = parse(DROID).unwrap();
        assert_eq!(f.command("test"), Some("python3 -m unittest -q"));
        assert_eq!(f.command("lint"), Some("true"));
        assert_eq!(f.command("build"), None);
        assert!(f.services.is_empty());
    }

    const WEB: &str = r#"
commands:
  test: npm test
services:
  db:
    start: postgres -D data
    stop: pg_ctl stop
    healthcheck: pg_isready
    port: 5432
  api:
    start: node server.js
    healthcheck: curl -sf http://localhost:3000/health
    port: "3000"
    depends_on: [db]
    replicas: 2   # unknown keys are ignored
  web:
    start: npm run dev
    depends_on: api
"#;

    #[test]
    fn services_read_in_order_with_their_fields() {
        let f = parse(WEB).unwrap();
        let api = f.service("api").unwrap();
        assert_eq!(
            api,
            &Service {
                name: "api".into(),
                start: "node server.js".into(),
                stop: None,
                healthcheck: Some("curl -sf http://localhost:3000/health".into()),
                port: Some(3000),
                depends_on: vec!["db".into()]
            }
        );
        assert_eq!(f.service("web").unwrap().depends_on, ["api"]);
        let names = |order: Vec<&Service>| order.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(f.start_order(&[]).unwrap()), ["db", "api", "web"]);
        assert_eq!(names(f.start_order(&["api"]).unwrap()), ["db", "api"]);
        assert_eq!(names(f.start_order(&["web", "db"]).unwrap()), ["db", "api", "web"]);
    }

    #[test]
    fn bad_files_are_clear_errors() {
        let cases = [
            ("- a\n- b\n", "services.yaml must be a mapping with `commands:` and `services:`, not a list"),
            ("services:\n  web:\n    stop: x\n", "services.yaml: service `web` has no `start` command"),
            ("services:\n  web: npm start\n", "services.yaml: service `web` must be a mapping (start, stop, healthcheck, port, depends_on), not a string"),
            ("services:\n  web:\n    start: x\n    port: http\n", "services.yaml: `services.web.port` must be a port number, not http"),
            ("services:\n  web:\n    start: x\n    port: 70000\n", "services.yaml: `services.web.port` must be a port number, not 70000"),
            ("commands:\n  test: [a, b]\n", "services.yaml: `commands.test` must be a command line, not a list"),
            ("services: [web]\n", "services.yaml: `services` must be a mapping of name to service, not a list"),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text).unwrap_err(), want, "{text}");
        }
        let syntax = parse("services:\n  web: {start: x\n").unwrap_err();
        assert!(syntax.starts_with("services.yaml is not valid YAML: "), "{syntax}");
        assert_eq!(parse("").unwrap(), ServicesFile::default());
        assert_eq!(parse("# nothing yet\n").unwrap(), ServicesFile::default());
    }

    #[test]
    fn dependencies_must_exist_and_not_loop() {
        let unknown = parse("services:\n  web:\n    start: x\n    depends_on: [db]\n").unwrap();
        assert_eq!(
            unknown.start_order(&[]).unwrap_err(),
            "service `web` depends on `db`, which services.yaml does not define"
        );
        assert_eq!(unknown.start_order(&["cache"]).unwrap_err(), "no service `cache` in services.yaml");
        let cycle = parse("services:\n  a: {start: x, depends_on: [b]}\n  b: {start: x, depends_on: [c]}\n  c: {start: x, depends_on: [a]}\n").unwrap();
        assert_eq!(cycle.start_order(&[]).unwrap_err(), "services depend on each other in a cycle: a -> b -> c -> a");
        let own = parse("services:\n  a: {start: x, depends_on: a}\n").unwrap();
        assert_eq!(own.start_order(&[]).unwrap_err(), "services depend on each other in a cycle: a -> a");
    }
}
