sh calc.sh nope 2>/dev/null && { echo 'unknown op must fail'; exit 1; }; exit 0
