set -e
for t in tests/test_*.sh; do sh "$t"; done
echo "all tests passed"
