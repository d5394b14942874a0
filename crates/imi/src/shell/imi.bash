# imi shell integration for bash. Add to ~/.bashrc:
#
#     eval "$(imi shell-init bash)"
#
# Defines a function `imi` that runs the imi binary and, after a successful
# `imi go ...`, changes directory to the path it printed. Every other invocation
# runs the binary as it is, with its output and exit code; when that deleted the
# directory the shell is in (`imi merge` / `imi remove` of this worktree), the
# shell moves to the project's trunk. Sourcing this twice is
# harmless: it only (re)defines functions.

builtin unalias imi >/dev/null 2>&1 || builtin true

# Succeeds when this is `imi go ...` (global options may come first:
# `imi -p app go x`) with none of the flags that make it print something other
# than a path.
__imi_wants_cd() {
    local __imi_arg __imi_skip=0 __imi_is_go=0
    for __imi_arg in "$@"; do
        if [ "$__imi_skip" = 1 ]; then
            __imi_skip=0
            continue
        fi
        case "$__imi_arg" in
            --json | -h | --help | -V | --version) return 1 ;;
        esac
        if [ "$__imi_is_go" = 0 ]; then
            case "$__imi_arg" in
                -p | --project | --database | --agent) __imi_skip=1 ;;
                -*) ;;
                go) __imi_is_go=1 ;;
                *) return 1 ;;
            esac
        fi
    done
    [ "$__imi_is_go" = 1 ]
}

__imi_go() {
    local __imi_out __imi_rc
    __imi_out="$(command imi "$@")"
    __imi_rc=$?
    if [ "$__imi_rc" -ne 0 ]; then
        [ -n "$__imi_out" ] && builtin printf '%s\n' "$__imi_out"
        return "$__imi_rc"
    fi
    if [ -d "$__imi_out" ]; then
        builtin cd -- "$__imi_out" || return
    elif [ -n "$__imi_out" ]; then
        builtin printf '%s\n' "$__imi_out"
    fi
}

imi() {
    if __imi_wants_cd "$@"; then
        __imi_go "$@"
    else
        command imi "$@"
        local __imi_rc=$? __imi_trunk
        # The command deleted the directory the shell is in (`imi merge` or
        # `imi remove` of this worktree): go to the project's trunk.
        if [ ! -d "$PWD" ]; then
            __imi_trunk="$(command imi trunk 2>/dev/null)" &&
                [ -d "$__imi_trunk" ] && builtin cd -- "$__imi_trunk"
        fi
        return "$__imi_rc"
    fi
}
