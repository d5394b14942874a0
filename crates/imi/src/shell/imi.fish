# imi shell integration for fish. Add to ~/.config/fish/config.fish:
#
#     imi shell-init fish | source
#
# Defines a function `imi` that runs the imi binary and, after a successful
# `imi go ...`, changes directory to the path it printed. Every other invocation
# runs the binary as it is, with its output and exit code. Sourcing this twice is
# harmless: it only (re)defines functions.

# Succeeds when `imi go` should change directory: `go` first, and none of the
# flags that make it print something other than a path.
function __imi_wants_cd
    test (count $argv) -ge 1; and test "$argv[1]" = go; or return 1
    for __imi_arg in $argv
        switch $__imi_arg
            case --json -h --help -V --version
                return 1
        end
    end
    return 0
end

function __imi_go
    set -l __imi_out (command imi $argv | string collect)
    set -l __imi_rc $pipestatus[1]
    if test $__imi_rc -ne 0
        test -n "$__imi_out"; and printf '%s\n' $__imi_out
        return $__imi_rc
    end
    if test -d "$__imi_out"
        builtin cd -- $__imi_out
    else if test -n "$__imi_out"
        printf '%s\n' $__imi_out
    end
end

function imi --description 'imi worktree manager; `imi go` changes directory'
    if __imi_wants_cd $argv
        __imi_go $argv
    else
        command imi $argv
    end
end
