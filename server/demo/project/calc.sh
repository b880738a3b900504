op=$1; shift
[ -f "ops/$op.sh" ] || { echo "unknown operation: $op" >&2; exit 2; }
exec sh "ops/$op.sh" "$@"
