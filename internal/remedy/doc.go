// Package remedy is the remediation engine behind `unbrick scan` and
// `unbrick fix` (and the wizard): discover volumes, unlock, find the faulty
// files, plan, journal, apply, verify, record. It never prints: it returns
// one *Volume report per candidate volume, which the CLI renders, and hands
// each finished report to Options.Log (the fleet log, via FleetRecord).
//
// API status: usable.
//
//	vols := remedy.Scan(ctx, targets, remedy.Options{Keys: set, Typed: typed, Rules: rules})
//	vols := remedy.Fix(ctx, targets, remedy.Options{..., JournalDir: dir, Log: appendRecord, Parallel: 2})
//	code := remedy.ExitCode(vols, scan)   // 1 > 4 > 3 > 5 > 0; scan: only read failures
//	rec  := vol.FleetRecord(&opts)        // internal/fleetlog record, no secret
//
// Hooks for front ends that call the engine several times (the wizard):
//
//   - Options.Select(target, partition) limits a call to chosen volumes;
//     the others are not opened and not reported.
//   - TypedKey.VolumeGUID scopes a key to one BitLocker volume, so it is
//     not tried (a 2^20-round stretch each time) on every other one.
//   - Options.KeyCache (NewKeyCache) keeps, per BitLocker volume GUID, the
//     unwrapped key of every volume unlocked (bitlocker's ReuseKey) and is
//     tried first: Scan, dry run and Fix sharing one cache derive each key
//     once. The cache is never logged or written; it formats as a count.
//   - Options.Progress(v, step) is told when a volume enters each Step:
//     unlock, evaluate, plan, journal, write, verify, done.
//   - Volume.KeyDerivations counts the stretches a call spent on a volume.
//
// # One volume, one write path
//
// The low-level commands (ntfs ls|cat|journal|rm, bitlocker info|decrypt)
// use the same coordinator as Scan and Fix, one volume at a time:
//
//	o, err := remedy.Open(remedy.OpenRequest{Target: img, Partition: 3, Keys: ko, Writable: true})
//	status := remedy.ErrorStatus(err)  // locked, refused, failed...
//	nv, _ := o.NTFS()                  // read-only or on the staged view
//	nv, replay, _ := o.StageReplay(nv) // an unclean journal, staged
//	o.Stage(plan)                      // ntfs PlanDelete's plan, in memory
//	c, err := o.Commit(remedy.JournalOptions{Dir: jdir, RunID: id})
//	err = remedy.VerifyDeleted(o, plan.Deleted)
//
// Open is the one way from a target to a partition to a BitLocker volume
// unlocked with the engine's key policy (step 2 below, KeyOptions) to
// NTFS. BitLocker is given the bytes the image holds, so a volume the
// image does not hold whole is Short, and CheckWhole refuses it: fix and
// ntfs rm make that check before planning and Commit makes it again.
// Commit is the one write path: the undo journal is written and fsynced,
// the disk is checked against the staged before-images, each write is
// followed by disk.Target.Sync on the descriptor it went through, and the
// applied marker ends the journal. Reopen re-opens from scratch with the
// key already unwrapped.
//
// Test fixtures shared with the front ends' tests (an unclean $LogFile
// restart area written into an image copy) are in internal/remedy/remedytest.
//
// # Per volume
//
// Targets are processed Options.Parallel at a time; the volumes of one
// target one after the other. For each candidate internal/disk finds:
//
//  1. the partition section (Open's code path); in fix mode (dry run
//     included) wrapped in an undo.Recorder, which stages every write in
//     memory;
//  2. BitLocker: open the metadata and unlock with the key cache's key for
//     the volume, if any, else with the keys worth trying, one at a time
//     (each recovery password or password costs a 2^20-round stretch): the
//     clear key of a suspended volume, typed keys (those scoped to another
//     volume GUID left out), then the key
//     export's entries for the volume's protector IDs, for the computer name
//     in its metadata description, for the host's SMBIOS serial (at most
//     keys.MaxCandidates). No key: status locked, and the error names the
//     recovery key IDs to look up;
//  3. NTFS: open; a volume without Windows/System32/config/SYSTEM is not a
//     Windows system volume (status skipped, no fleet record);
//  4. host identity: the computer name from the SYSTEM hive (internal/hostid);
//  5. journal state (ntfs JournalState): in fix mode a hibernated Windows
//     is refused; a dirty flag alone is fine and stays set. An unclean
//     $LogFile is replayed (Options.Unclean replay, the default): the
//     journal's committed transactions are redone (ntfs PlanReplay) into
//     the recorder first, NTFS is re-opened on the staged volume and its
//     journal must be clean. A journal PlanReplay cannot replay falls back
//     to Options.UncleanFallback: refused (the default, nothing written)
//     or reset. Unclean refuse refuses, reset empties the journal. The
//     replay is committed with the deletion in one undo journal, and
//     counted by operation in JournalInfo;
//  6. rules (internal/rules): the entries of the rules' directories, with
//     $STANDARD_INFORMATION last-write time, size, sha256 and all-zero test;
//     no faulty file: already-clean, or needs-review when a match is neither
//     faulty nor good (unless Options.Approve, the wizard's hook, approves
//     deleting it);
//  7. plan: ntfs PlanDelete per faulty file, each plan applied to the
//     recorder before the next is made (files of one directory share an
//     index); dry run stops here with the plan text;
//  8. commit (Opened.Commit): the undo journal
//     JDIR/<run-id>-<volume-id>.journal is written and fsynced, then the
//     staged writes go to the disk in order, each followed by
//     disk.Target.Sync (undo.Recorder.Commit); a journal that cannot be
//     written, or a disk that changed since planning, means refused and
//     nothing written;
//  9. verify: re-open section, BitLocker (ReuseKey: no second stretch) and
//     NTFS from scratch; each deleted file must be gone under every name and
//     the system hive still there; else failed, with the undo command.
//
// Status and exit code: remediated, already-clean, dry-run 0; needs-review 5;
// locked 3; refused 4; failed 1 (Status.ExitCode, ExitCode).
package remedy
