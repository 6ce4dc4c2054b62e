// Package remedy is the remediation engine behind `unbrick scan` and
// `unbrick fix` (and the wizard): discover volumes, unlock, find the faulty
// files, plan, journal, apply, verify, record. It never prints: it returns
// one *Volume report per candidate volume, which the CLI renders, and hands
// each finished report to Options.Hooks.Log (the fleet log, via
// FleetRecord).
//
// API status: usable.
//
//	o := remedy.Options{
//		Keys:     remedy.KeyOptions{Export: set, Typed: typed, Cache: cache},
//		Rules:    rules,
//		Fix:      remedy.FixOptions{JournalDir: dir},          // DryRun, Unclean, UncleanFallback, Approve
//		Hooks:    remedy.Hooks{Log: appendRecord},             // Progress, Select
//		Identity: remedy.Identity{Technician: "alice"},        // RunID, ToolVersion, OnHost, SMBIOS
//		Parallel: 2,
//	}
//	vols := remedy.Scan(ctx, targets, o)
//	vols := remedy.Fix(ctx, targets, o)
//	code := remedy.ExitCode(vols, scan)   // 1 > 4 > 3 > 5 > 0; scan: only read failures
//	rec  := vol.FleetRecord(&o)           // internal/fleetlog record, no secret
//
// Hooks for front ends that call the engine several times (the wizard):
//
//   - Hooks.Select(target, partition) limits a call to chosen volumes;
//     the others are not opened and not reported.
//   - TypedKey.VolumeGUID scopes a key to one BitLocker volume, so it is
//     not tried (a 2^20-round stretch each time) on every other one.
//   - KeyOptions.Cache (NewKeyCache) keeps, per BitLocker volume GUID, the
//     unwrapped key of every volume unlocked (bitlocker's ReuseKey) and is
//     tried first: Scan, dry run and Fix sharing one cache derive each key
//     once. The cache is never logged or written; it formats as a count.
//   - Hooks.Progress(v, step) is told when a volume enters each Step:
//     unlock, evaluate, plan, journal, write, verify, done.
//   - Fix.Approve(v, file) may turn a needs-review file into one to delete.
//   - Volume.KeyDerivations counts the stretches a call spent on a volume.
//   - Options.Stream, for runs over thousands of targets: each target's
//     reports go to Hooks.Target as it finishes and are not kept; Fix
//     returns only those whose fleet log record could not be saved.
//     Memory then does not grow with the number of targets (KeyCache
//     keeps at most MaxKeyCacheVolumes GUIDs; the undo journal folder is
//     indexed once, its incomplete journals only).
//
// Reports hold typed values where front ends compare them: Status,
// KeyMatch (BitLockerInfo.KeyMatch) and bitlocker.ProtectorType
// (Protector.Type).
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
// unlocked with the engine's key policy (KeyOptions, step 1 below) to
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
// target one after the other. Fix (dry run excepted) holds the target's
// lock (one writer per disk) from planning to the record; a target another
// run holds is busy. A target with no partition table or volume unbrick
// recognises, or no Windows system volume, is no-windows; a partition that
// may hold Windows but is neither BitLocker nor NTFS is unrecognized; one
// of a kind unbrick cannot open (Storage Spaces, ...) is needs-review.
//
// Each BitLocker or NTFS candidate goes through five steps, each taking the
// previous step's value and returning the next (engine-internal); a step
// that stops says why with an error carrying its Status (ErrorStatus):
//
//  1. open → opened volume: the partition section (Open's code path), in
//     fix mode (dry run included) wrapped in an undo.Recorder that stages
//     every write in memory; BitLocker unlocked with the key cache's key
//     for the volume, if any, else with the keys worth trying, one at a
//     time (each recovery password or password costs a 2^20-round
//     stretch): the clear key of a suspended volume, typed keys (those
//     scoped to another volume GUID left out), then the key export's
//     entries for the volume's protector IDs, for the computer name in its
//     metadata description, for the host's SMBIOS serial (at most
//     keys.MaxCandidates); no key: locked, the error naming the recovery
//     key IDs to look up. Then NTFS. In fix mode, an earlier fix of this
//     volume on this disk that was interrupted (an incomplete undo journal
//     in Fix.JournalDir) is finished first from its journal (undo
//     RollForward) and NTFS re-read; a journal that does not fit the disk
//     any more refuses. A volume without Windows/System32/config/SYSTEM is
//     not a Windows system volume (skipped, no fleet record); else the
//     computer name and time zone are read from the SYSTEM hive.
//  2. evaluate → evaluation: the journal state (ntfs JournalState). In fix
//     mode an unclean $LogFile is replayed (Fix.Unclean replay, the
//     default): the journal's committed transactions are redone
//     (ntfs/replay Plan) into the recorder, NTFS is re-opened on the staged volume
//     and its journal must be clean; a journal that cannot be replayed
//     falls back to Fix.UncleanFallback: refuse (the default, after the
//     files are evaluated) or reset. Scan says what fix would replay. Then
//     the rules (internal/rules): the entries of the rules' directories,
//     with $STANDARD_INFORMATION last-write time, size, sha256 and all-zero
//     test. A disable-service rule (rules.ActionDisableService) is
//     planned on the SYSTEM hive (internal/regf PlanDisableService):
//     Start to change, already 4, or refused (dirty hive, bad checksum,
//     value missing or not a REG_DWORD: Volume.Services). Scan stops here
//     (scanned).
//  3. plan → planned fix: the write gate (a hibernated Windows, an unclean
//     journal under refuse: refused; a dirty flag alone is fine and stays
//     set); the files classified: faulty (or approved by Fix.Approve) to
//     delete, good kept, needs-review left for review. Nothing to delete:
//     already-clean, or needs-review with the rules' cause, or remediated
//     when this run finished an interrupted fix (a staged replay is then
//     not written). Else the volume must be whole, and ntfs PlanDelete is
//     run per faulty file, each plan staged before the next is made (files
//     of one directory share an index), after the replay. A refused
//     disable-service rule refuses the volume first (nothing written, not
//     even the deletions); a needed one is planned after the deletions
//     with edit.PlanOverwrite (the Start values' bytes of the hive, in
//     place) and staged the same way, so one undo journal covers replay,
//     deletions and hive. A dry run stops
//     here with the plan text (dry-run).
//  4. commit → committed fix (Opened.Commit): the undo journal
//     JDIR/<run-id>-<volume-id>.journal is written and fsynced, then the
//     staged writes (replay and deletions) go to the disk in order, each
//     followed by disk.Target.Sync (undo.Recorder.Commit); a journal that
//     cannot be written, or a disk that changed since planning, means
//     refused and nothing written.
//  5. verify: section, BitLocker (ReuseKey: no second stretch) and NTFS
//     re-opened from scratch; the hive read again must say Start = 4 in
//     every selected control set of each service written (regf.Verify);
//     each deleted file must be gone under every
//     name, the system hive still there, a replayed journal clean; else
//     failed, with the undo command. Then remediated, or needs-review when
//     another match is left for review.
//
// The report is filled from each step's value; one function (settle)
// decides the volume's Status and Error from how far it got and the error
// that stopped it. Hooks.Progress sees the report as it is so far;
// Volume.Phases has the wall time of unlock, replay, evaluate, plan, write
// and verify.
//
// Status and exit code: remediated, already-clean, dry-run, scanned,
// skipped 0; needs-review, unrecognized, no-windows 5; locked 3; refused,
// busy 4; failed 1 (Status.ExitCode, ExitCode).
package remedy
