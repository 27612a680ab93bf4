// Package logship ships task logs from the shared file system (HFS) into the
// S3-compatible object store (COS): live, as numbered chunk objects while the
// task runs, and sealed, as one object plus a manifest when it has ended.
//
// logship owns COS: it is the only importer of minio-go. It never imports the
// gateway; progress is persisted through the small Checkpoints interface that
// the caller implements (the gateway stores it in SQLite).
//
// # Object layout
//
// For a Source with Prefix P (logs/<project>/<container>/<task>/):
//
//	P chunks/000000000001 ...  live chunks, 12-digit zero-padded so names sort numerically
//	P log                      the sealed log: byte-equal to what was read from the file
//	P manifest.json            size, sha256, lines, exit code, state, times, flags
//
// Chunks are removed once the sealed log and its manifest are stored.
//
// # Why logship polls the file itself instead of reading lines from hpcloud/tail
//
// hpcloud/tail v1.0.0 was evaluated for the data path and rejected; logship
// does not import it. Its Lines channel strips '\n' (so byte offsets must be
// reconstructed), never delivers a final line without '\n' while following,
// may split long lines (MaxLineSize) or hold an unbounded line in memory
// (without it), reports Tell() offsets it documents as inexact, reopens a
// truncated file at offset 0 without telling the caller, keeps its poll
// interval in a package global (watch.POLL_DURATION), and its polling watcher
// calls os.Exit on an unexpected stat error (util.Fatal) — an NFS ESTALE or EIO
// would kill the gateway. Its polling "change detection" is a
// stat loop, which is all logship needs. So logship does the same thing
// explicitly: every PollInterval it fstat()s its open descriptor and stat()s
// the path, reads new bytes with ReadAt from the exact checkpointed offset,
// and ships them unchanged (CRLF, invalid UTF-8 and a final unterminated line
// included). Polling, not inotify, because a shared file system does not
// deliver inotify events for writes made on other nodes.
//
// # Using it
//
// Run Follow in a goroutine per running task; call Seal when the task has
// ended (Follow then returns nil); serve Tail, Stream (SSE; the event id is
// the byte offset) and Store.PresignLog. Checkpoints is the caller's durable
// store. One Shipper per process; a source is shipped by one Shipper at a time.
//
// # Guarantees
//
//   - Exact offsets: Checkpoint.Offset is the number of log bytes stored in
//     committed chunks; a chunk is committed only when its put succeeded and
//     the checkpoint naming it was saved. A crash between the put and the save
//     re-puts the same chunk numbers from the same offsets (overwrites; chunks
//     past the checkpoint are never read and are removed at seal), so no
//     byte is lost or repeated. A backlog is put up to MaxConcurrentPuts
//     chunks at a time, then checkpointed once.
//   - COS unreachable: puts are retried with exponential backoff; the backlog
//     stays in the file and is shipped, in MaxChunk pieces, when COS returns.
//   - Truncated file: recorded (Checkpoint.Truncated, Manifest.Truncated);
//     shipping continues from the file's new start, appended to the log.
//   - Deleted or replaced file: recorded (Deleted); bytes the job still
//     writes to the open descriptor are shipped. After a restart the path is
//     reopened only if it is the same file (device:inode and its first 64
//     bytes match the checkpoint); otherwise the shipped part is sealed.
//   - Seal waits until the file's size holds still for one PollInterval.
//   - Memory: at most MaxConcurrentPuts chunk buffers of MaxChunk bytes per
//     Shipper; sealing streams (server-side compose or a piped PutObject with a
//     fixed PartSize), so a GiB log is never held in memory.
package logship
