package remedy

import (
	"time"

	"github.com/unbrick/unbrick/bitlocker"
	"github.com/unbrick/unbrick/internal/exitcode"
	"github.com/unbrick/unbrick/internal/hostid"
	"github.com/unbrick/unbrick/internal/rules"
)

// Status is a volume's outcome, as the fleet log records it.
type Status string

// Volume outcomes (docs/fleet-log.md; README.md exit codes).
const (
	StatusRemediated   Status = "remediated"    // faulty files deleted and verified gone
	StatusAlreadyClean Status = "already-clean" // no faulty file, nothing left for review
	StatusNeedsReview  Status = "needs-review"  // a match a human has to judge
	StatusDryRun       Status = "dry-run"       // planned, nothing written
	StatusLocked       Status = "locked"        // no usable key
	StatusRefused      Status = "refused"       // unsafe state or policy; nothing written
	StatusFailed       Status = "failed"        // an error
	// StatusScanned is scan's outcome for a volume it could read; it is
	// never written to the fleet log.
	StatusScanned Status = "scanned"
	// StatusSkipped: the volume is not a Windows system volume (a recovery
	// or data partition); reported, never logged.
	StatusSkipped Status = "skipped"
	// StatusUnrecognized: a partition that may hold Windows but is neither
	// BitLocker nor NTFS as far as unbrick can tell (damaged signature,
	// past the end of the image): logged, exit 5.
	StatusUnrecognized Status = "unrecognized"
	// StatusNoWindows: no Windows system volume on the target (or, booted
	// on a host, on any of its disks): logged, exit 5.
	StatusNoWindows Status = "no-windows"
	// StatusBusy: another unbrick run holds the target; nothing was read
	// for planning and nothing written. Not logged (the other run logs the
	// host); exit 4.
	StatusBusy Status = "busy"
	// StatusNotStarted: the run stopped before it started this target
	// (Ctrl-C, or --max-failures reached); nothing was read or written.
	StatusNotStarted Status = "not-started"
)

// ExitCode maps a status to the process exit code it stands for.
func (s Status) ExitCode() int {
	switch s {
	case StatusRemediated, StatusAlreadyClean, StatusDryRun, StatusScanned, StatusSkipped, "":
		return exitcode.OK
	case StatusNeedsReview, StatusUnrecognized, StatusNoWindows:
		return exitcode.NeedsReview
	case StatusLocked:
		return exitcode.Locked
	case StatusRefused, StatusBusy, StatusNotStarted:
		return exitcode.Refused
	default:
		return exitcode.Failure
	}
}

// Verdicts of a rule on one file.
const (
	VerdictFaulty      = "faulty"       // delete it
	VerdictGood        = "good"         // leave it
	VerdictNeedsReview = "needs-review" // a human decides
)

// Actions taken on a matching file.
const (
	ActionDeleted     = "deleted"
	ActionWouldDelete = "would-delete" // dry run
	ActionKept        = "kept"
	ActionReview      = "left-for-review"
	ActionNone        = "none" // scan, or the volume was refused/failed before acting
)

// File is one file a rule matched, with the rule's verdict.
type File struct {
	Path    string    `json:"path"` // volume path with forward slashes, e.g. Windows/System32/drivers/CrowdStrike/C-00000291-….sys
	Size    int64     `json:"size"`
	MTime   time.Time `json:"mtime"` // $STANDARD_INFORMATION last-write time, UTC
	SHA256  string    `json:"sha256,omitempty"`
	AllZero bool      `json:"all_zero,omitempty"`
	Verdict string    `json:"verdict"`
	Reason  string    `json:"reason"`
	Action  string    `json:"action"`
	Rule    string    `json:"rule,omitempty"`

	record uint64      // MFT record number (verification)
	cause  rules.Cause // why the verdict is needs-review

}

// Protector is one BitLocker key protector as reported.
type Protector struct {
	ID   string                  `json:"id"`              // GUID, upper case, no braces
	Type bitlocker.ProtectorType `json:"type"`            // bitlocker.ProtectorRecoveryPassword, ProtectorTPM, ...
	Code string                  `json:"protection_code"` // raw protection type field, "0x0800"
}

// BitLockerInfo describes a BitLocker volume's metadata.
type BitLockerInfo struct {
	VolumeGUID  string      `json:"volume_guid"`
	Method      string      `json:"method"`
	MethodCode  string      `json:"method_code"` // "0x8004"
	State       string      `json:"state,omitempty"`
	Description string      `json:"description,omitempty"`
	Protectors  []Protector `json:"protectors"`
	// MetadataCopies says, per FVE metadata copy, "valid" or what is wrong
	// with it.
	MetadataCopies []string `json:"metadata_copies,omitempty"`
	// Unlock outcome.
	Unlocked     bool     `json:"unlocked"`
	ProtectorID  string   `json:"protector_id,omitempty"` // protector that opened it
	UnlockMethod string   `json:"unlock_method,omitempty"`
	KeySource    string   `json:"key_source,omitempty"` // "keys.csv:12", "--recovery-password", "clear key"
	KeyMatch     KeyMatch `json:"key_match,omitempty"`  // how the key was chosen: MatchProtectorID, MatchTyped...
	// KeyID of the recovery key used (to be rotated), when one was.
	RecoveryKeyID string `json:"recovery_key_id,omitempty"`
}

// JournalInfo is the NTFS journal state and the decision taken on it.
type JournalInfo struct {
	State      string `json:"state"` // clean, unclean, hibernated, ...
	Detail     string `json:"detail,omitempty"`
	Dirty      bool   `json:"dirty"`      // VOLUME_IS_DIRTY (chkdsk scheduled)
	Hibernated bool   `json:"hibernated"` // hiberfil.sys holds a hibernated session
	Reset      bool   `json:"reset"`      // --unclean=reset: the fix empties the journal first
	// Replayed counts, by redo operation, the committed log records
	// --unclean=replay redid before the deletion (in the same undo
	// journal); ReplaySkipped the committed records already on disk.
	Replayed      map[string]int `json:"replayed,omitempty"`
	ReplaySkipped int            `json:"replay_skipped,omitempty"`
	// RolledBack counts the records of uncommitted transactions whose
	// changes had reached the disk and were rolled back, as Windows does.
	RolledBack int `json:"rolled_back,omitempty"`
	// ReplayImpossible says why the journal could not be replayed (the
	// operation and log record unbrick cannot redo, or the damage); the
	// volume was then refused or, with --unclean-fallback=reset, reset.
	ReplayImpossible string `json:"replay_impossible,omitempty"`
}

// Action says what a fix did with an unclean journal, given the volume's
// final status: "replayed", "reset", "refused", or "" (clean journal, or
// nothing was to be written). After a dry run or a scan it says what fix
// would do: "would-replay", "would-reset" or "would-refuse".
func (j *JournalInfo) Action(s Status) string {
	a := ""
	switch {
	case j == nil || j.State == "clean":
		return ""
	case s == StatusRefused:
		a = "refused"
	case j.Reset:
		a = "reset"
	case len(j.Replayed) > 0 || j.ReplaySkipped > 0 || j.RolledBack > 0:
		a = "replayed"
	case s == StatusScanned && j.ReplayImpossible != "":
		a = "refused"
	}
	if s == StatusDryRun || s == StatusScanned {
		return map[string]string{"replayed": "would-replay", "reset": "would-reset", "refused": "would-refuse"}[a]
	}
	return a
}

// Volume is the report on one candidate volume of a target.
type Volume struct {
	Target     string `json:"target"`
	TargetSize int64  `json:"target_size"`
	Disk       string `json:"disk,omitempty"` // model and serial, when known
	// Container is how the target file holds the disk when it is not raw:
	// "vhd-fixed" or "vmdk-flat" (disk.Container).
	Container  string `json:"container,omitempty"`
	Partition  int    `json:"partition"` // as Linux numbers it; 0 = whole target; -1 = target-level problem
	Offset     int64  `json:"offset"`
	Size       int64  `json:"size"`
	Scheme     string `json:"scheme,omitempty"`
	PartName   string `json:"partition_name,omitempty"`
	Kind       string `json:"kind"` // BitLocker, NTFS, or an unsupported kind
	Encryption string `json:"encryption"`

	BitLocker *BitLockerInfo `json:"bitlocker,omitempty"`
	VolumeID  string         `json:"volume_id,omitempty"` // BitLocker GUID, else NTFS serial
	Label     string         `json:"label,omitempty"`     // NTFS label

	Windows      bool         `json:"windows"` // has Windows/System32/config/SYSTEM
	ComputerName string       `json:"computer_name,omitempty"`
	Journal      *JournalInfo `json:"journal,omitempty"`

	Rules []string `json:"rules,omitempty"`
	Files []File   `json:"files,omitempty"`
	// Services: each disable-service rule's finding and action.
	Services []Service `json:"services,omitempty"`

	PlanWrites int      `json:"plan_writes,omitempty"`
	PlanBytes  int64    `json:"plan_bytes,omitempty"`
	PlanText   string   `json:"plan,omitempty"` // human rendering of the write plan (dry run)
	Notes      []string `json:"notes,omitempty"`

	// KeyDerivations is how many 2^20-round key stretches this call spent
	// on the volume (each ~0.1 s): 0 when it was opened by a cached key, a
	// clear key or a startup key.
	KeyDerivations int `json:"key_derivations,omitempty"`

	Status Status `json:"status"`
	Error  string `json:"error,omitempty"`
	// LogError is set when the volume's fleet log record could not be
	// saved (the status still says what happened on the disk); the run
	// then exits 1 so that the missing record is noticed.
	LogError string `json:"log_error,omitempty"`
	// FinishedRun is the run ID of an interrupted fix whose undo journal
	// this run rolled forward before its own work.
	FinishedRun string        `json:"finished_run,omitempty"`
	JournalFile string        `json:"journal_file,omitempty"`
	Duration    time.Duration `json:"duration_ns"`
	Finished    time.Time     `json:"finished"` // system clock, UTC
	// Phases is the wall time of each step in milliseconds (unlock,
	// evaluate, plan, write, verify).
	Phases  map[string]float64 `json:"phases_ms,omitempty"`
	clockTZ *hostid.TimeZone
	// Record is false for volumes the fleet log does not track (not a
	// Windows system volume and not a locked volume that could be one).
	Record bool `json:"-"`
}

// ExitCode merges the outcomes of volumes. For scan, only read failures
// count.
func ExitCode(vols []*Volume, scan bool) int {
	var codes []int
	for _, v := range vols {
		c := v.Status.ExitCode()
		if scan && c != exitcode.Failure {
			c = exitcode.OK
		}
		if v.LogError != "" {
			c = exitcode.Failure
		}
		codes = append(codes, c)
	}
	return exitcode.Merge(codes...)
}
