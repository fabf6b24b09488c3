// Package reliability holds crash tests that run against a real weedvol
// process, with the real pinned upstream master beside it. The package has
// no library code: the tests are in its _test.go files.
//
// # TestCrash
//
// TestCrash starts the upstream master and weedvol on loopback, has the
// master grow four volumes on weedvol, and then runs cycles on one data
// directory. In each cycle:
//
//  1. Sixteen writers (-crash.writers) upload multipart files straight to
//     weedvol under file ids they make up for those volumes (keys unique
//     per writer and never reused, random cookies). Sizes are random, most
//     from 0 B to 200 KB (2% empty), one in a hundred of 1-2 MB; the bytes
//     of a file come from a PRNG seeded by -crash.seed and the file's key,
//     so they can be made again. About one upload in five asks for
//     ?fsync=true. About one request in five is a DELETE of a file whose
//     upload was acknowledged (201), in this cycle or an earlier one.
//  2. After a random 0.3-2.5 s of load the weedvol process group is sent
//     SIGKILL. Every file's state is known: written (acknowledged, with the
//     SHA-256 of its bytes), deleted (acknowledged with 202), or in flight
//     (an upload or delete that was sent and not answered).
//  3. In every third cycle the tails of some volumes' .dat and/or .idx files
//     are then cut at random depths, up to 300 KB from their ends, as if
//     those bytes had never reached the disk. Before cutting, the test reads
//     the .idx rows to find the files whose records or rows could lie in
//     the cut regions. weedvol's .wvx index cache is left as it is: weedvol
//     must see that it no longer matches the .idx.
//  4. weedvol is restarted on the same directory and port and must answer
//     /status with 200 within a minute, serving every volume it had,
//     writable. Then the files are read back with GETs (see below for which)
//     and each read is judged by the rules that follow.
//
// The rules:
//
//   - an acknowledged write not since deleted must read 200 with exactly its
//     bytes;
//   - an acknowledged delete must read 404;
//   - an upload in flight at the kill may read 404 or exactly its bytes, and
//     a delete in flight 404 or the file's bytes; what the read shows is the
//     file's state from then on (a 404 must stay 404, bytes must stay);
//   - a file the cut regions may have touched may read 404 or exactly its
//     bytes (a write or a delete lost with the cut bytes), never anything
//     else, whatever its state; what the read shows is again its state from
//     then on, under the strict rules.
//
// Every cycle reads the files written in it, those in flight and those a
// cut may have touched, and files of earlier cycles up to -crash.reverifyMB
// bytes (512 MB; rotating through them, so every file is read again every
// few cycles; 0 reads all); the last cycle reads every file.
//
// It counts acknowledged writes lost (404, or a DELETE answering 404),
// reads returning other bytes, deletes that came back (with the file's data
// or with an empty body, counted apart: the latter is an empty record, the
// tombstone, read as a live empty file), 5xx answers (during the load and
// the reads), failed restarts (a start that exits or times out, or a volume
// missing after it), volumes that came back read-only, and unexpected
// answers (other statuses, request errors before the kill). The test fails
// when any count is not zero, printing up to ten examples per count (file
// id, expected, got) and the tail of weedvol's log. Its last lines are the
// summary ("crash: 100 cycles, N acknowledged writes, M deletes, 0 lost,
// ...") and the allowed outcomes, which fail nothing: acknowledged writes
// lost to cuts, acknowledged deletes undone by cuts (each with how many of
// them had their record still whole in the .dat, only .idx rows cut), and
// in-flight writes and deletes that took.
//
// The default, what `go test ./...` runs, is 4 cycles (under a minute);
// `make crash` runs 100 (-crash.cycles=100, or $CRASH_CYCLES). The binaries are bin/weed and bin/weedvol
// (or $WEED_BINARY and $WEEDVOL_BINARY); the test skips without them,
// except in CI ($CI set), where it fails.
package reliability
