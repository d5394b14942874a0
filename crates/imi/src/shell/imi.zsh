# imi shell integration for zsh. Add to ~/.zshrc:
#
#     eval "$(imi shell-init zsh)"
#
# Defines a function `imi` that runs the imi binary and, after a successful
# `imi go ...`, changes directory to the path it printed. Every other invocation
# runs the binary as it is, with its output and exit code. Sourcing this twice is
# harmless: it only (re)defines functions.

builtin unalias imi >/dev/null 2>&1 || builtin true

# Succeeds when `imi go` should change directory: `go` first, and none of the
# flags that make it print something other than a path.
__imi_wants_cd() {
    [ "${1-}" = go ] || return 1
    builtin shift
    local __imi_arg
    for __imi_arg in "$@"; do
        case "$__imi_arg" in
            --json | -h | --help | -V | --version) return 1 ;;
        esac
    done
    return 0
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
    fi
}
