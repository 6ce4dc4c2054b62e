package remedy

// Step names a stage of the work on one volume, as Hooks.Progress
// reports it.
type Step string

// The steps, in the order they happen. A volume goes through a prefix of
// them: a scan stops after StepEvaluate, a dry run after StepPlan, a
// plain volume has no StepUnlock, an already clean one no StepPlan.
const (
	StepUnlock   Step = "unlock"   // BitLocker: open the metadata, try the keys
	StepEvaluate Step = "evaluate" // NTFS: journal state, rules, file facts
	StepPlan     Step = "plan"     // plan the deletions and stage them in memory
	StepJournal  Step = "journal"  // write and flush the undo journal
	StepWrite    Step = "write"    // the staged writes go to the disk
	StepVerify   Step = "verify"   // re-open from scratch and check
	StepDone     Step = "done"     // the report is final (v.Status is set)
)
