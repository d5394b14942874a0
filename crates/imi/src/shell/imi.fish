# imi shell integration for fish. Add to ~/.config/fish/config.fish:
#
#     imi shell-init fish | source
#
# Defines a function `imi` that runs the imi binary and, after a successful
# `imi go ...`, changes directory to the path it printed. Every other invocation
# runs the binary as it is, with its output and exit code; when that deleted the
# directory the shell is in (`imi merge` / `imi remove` of this worktree), the
# shell moves to the project's trunk. Sourcing this twice is
# harmless: it only (re)defines functions.

# Succeeds when this is `imi go ...` (global options may come first:
# `imi -p app go x`) with none of the flags that make it print something other
# than a path.
function __imi_wants_cd
    set -l skip 0
    set -l is_go 0
    for __imi_arg in $argv
        if test $skip = 1
            set skip 0
            continue
        end
        switch $__imi_arg
            case --json -h --help -V --version
                return 1
        end
        if test $is_go = 0
            switch $__imi_arg
                case -p --project --database --agent
                    set skip 1
                case '-*'
                case go
                    set is_go 1
                case '*'
                    return 1
            end
        end
    end
    test $is_go = 1
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
        set -l __imi_rc $status
        # the command deleted the directory the shell is in (`imi merge` or
        # `imi remove` of this worktree): go to the project's trunk
        if not test -d "$PWD"
            set -l __imi_trunk (command imi trunk 2>/dev/null)
            and test -d "$__imi_trunk"
            and builtin cd -- $__imi_trunk
        end
        return $__imi_rc
    end
end
