// Package slurm is batchgate's only door to Slurm: it runs sbatch, squeue,
// scontrol, scancel and sacct, renders batch scripts, and parses what the
// commands print.
//
// Running is kept apart from parsing: Client runs one binary per call through
// a single exec helper (context, timeout, WaitDelay, stderr in a typed error),
// and the pure functions ParseSqueue, ParseSacct and Render take and return
// bytes, so they are tested on output captured from a real Slurm 22.05 cluster
// (testdata/*_22.05_*.txt, written by scripts/capture-slurm-fixtures).
//
// Time zones: every command runs with TZ=UTC and SLURM_TIME_FORMAT=standard,
// so the times Slurm prints and the --begin value it reads are UTC wall-clock
// times whatever the zone of the gateway's process. Rendered scripts write
// --begin in UTC and say so in a comment (submit them by hand with
// `TZ=UTC sbatch FILE`). UTC has no daylight-saving gaps or repeats, so an
// hour that occurs twice in the cluster's zone is still named exactly.
//
// The package never imports batchgate/gateway; the gateway adapts these plain
// types to its own interfaces.
package slurm
