"""A tiny supervisor between codexkit and the codex process it starts, so that nothing
the runtime starts outlives it.

Signalling the child's process group is not enough: the runtime starts some processes
in sessions of their own (the shell snapshot's login shell, ``bash -lc``, via
``setsid``). When codex exits it kills that shell but not what the shell started (a
slow profile's ``sleep``, say); those orphans are re-parented to init and lost, and if
we are SIGKILLed nothing of ours runs at all.

The supervisor is codex's parent and a child subreaper (``PR_SET_CHILD_SUBREAPER``), so
such orphans are re-parented to it rather than to init. When codex exits (closed,
killed, or told to stop because we died: the supervisor hears of our death through
``PR_SET_PDEATHSIG``), it finds every process left below it through ``/proc``, kills
and reaps them, then exits with codex's own status (dying of the same signal if codex
did), so callers see codex's exit code. It reaps orphans as they die meanwhile.

It is a few lines of Perl run with ``perl -e``: a Perl interpreter is on nearly every
Linux system (``perl-base`` is essential on Debian and Ubuntu) and starts in about a
millisecond, as fast as ``setpriv``; a Python supervisor measured 10-15 ms more per
spawn. Where perl is missing, or on a CPU whose ``prctl`` syscall number we do not
know, codexkit starts codex without it (see ``tied_to_parent``).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence

__all__ = ["supervised"]

# The prctl(2) syscall number, per CPU codex ships a Linux binary for.
_PRCTL_SYSCALL = {"x86_64": 157, "aarch64": 167}

# Arguments: PRCTL_SYSCALL PARENT_PID PROGRAM [ARGS...]. Numbers from <linux/prctl.h>:
# PR_SET_PDEATHSIG = 1, PR_SET_CHILD_SUBREAPER = 36; WNOHANG = 1; EINTR = 4.
_PROGRAM = r"""
my ($nr, $parent) = splice @ARGV, 0, 2;
sub prctl { syscall($nr, $_[0], $_[1], 0, 0, 0) }
prctl(36, 1);
prctl(1, 15);
exit 1 if getppid() != $parent;
my $server = fork;
exit 1 unless defined $server;
if (!$server) {
    prctl(1, 9);
    exec { $ARGV[0] } @ARGV;
    print STDERR "codexkit supervisor: cannot run $ARGV[0]: $!\n";
    exit 127;
}
open STDIN, '<', '/dev/null';
open STDOUT, '>', '/dev/null';
open STDERR, '>', '/dev/null';
my $running = 1;
$SIG{ALRM} = sub { kill 'KILL', $server if $running };
$SIG{TERM} = $SIG{HUP} = $SIG{INT} = sub { if ($running) { kill 'TERM', $server; alarm 1 } };
my $status = 0;
while (1) {
    my $pid = waitpid(-1, 0);
    if ($pid == $server) { $status = $?; last }
    last if $pid < 0 && $! != 4;
}
$running = 0;
alarm 0;
sub descendants {
    my %children;
    opendir my $proc, '/proc' or return ();
    for my $pid (grep { /^\d+$/ } readdir $proc) {
        open my $fh, '<', "/proc/$pid/stat" or next;
        my $stat = <$fh>;
        next unless defined $stat && $stat =~ /\)\s(\S)\s(\d+)\s[^)]*$/;
        push @{ $children{$2} }, $pid unless $1 eq 'Z';
    }
    my @found;
    my @queue = ($$);
    while (@queue) {
        my $kids = $children{ shift @queue } or next;
        push @found, @$kids;
        push @queue, @$kids;
    }
    return @found;
}
for (1 .. 200) {
    my @left = descendants();
    last unless @left;
    kill 'KILL', @left;
    1 while waitpid(-1, 1) > 0;
    select undef, undef, undef, 0.005;
}
1 while waitpid(-1, 1) > 0;
if (my $signal = $status & 127) {
    $SIG{$_} = 'DEFAULT' for qw(TERM HUP INT ALRM);
    kill $signal, $$;
    exit 128 + $signal;
}
exit($status >> 8);
"""


def supervised(argv: Sequence[str]) -> list[str] | None:
    """``argv`` run under the supervisor, or ``None`` where it cannot run here."""
    if not sys.platform.startswith("linux"):
        return None
    syscall = _PRCTL_SYSCALL.get(os.uname().machine)
    perl = shutil.which("perl")
    if syscall is None or perl is None:
        return None
    return [perl, "-e", _PROGRAM, str(syscall), str(os.getpid()), *argv]
