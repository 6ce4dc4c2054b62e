package fleetlog

import (
	"time"
)

// Status is a volume's outcome.
type Status string

// Statuses, in the order reports list them.
const (
	StatusRemediated   Status = "remediated"    // faulty files deleted and verified gone
	StatusAlreadyClean Status = "already-clean" // no faulty file and nothing to review
	StatusNeedsReview  Status = "needs-review"  // a match a human has to judge
	StatusDryRun       Status = "dry-run"       // planned only (--dry-run)
	StatusLocked       Status = "locked"        // BitLocker volume without a usable key
	StatusRefused      Status = "refused"       // unsafe state or policy; nothing written
	StatusFailed       Status = "failed"        // an error
	// StatusUnrecognized: a partition that may hold Windows (a Microsoft
	// basic data partition, an unknown type, a damaged first sector, one
	// past the end of the image) that unbrick could not open as BitLocker
	// or NTFS; a human has to look (exit 5).
	StatusUnrecognized Status = "unrecognized"
	// StatusNoWindows: a run looked at every disk of a host (or a disk
	// image) and found no Windows system volume; a human has to look
	// (exit 5), since a host reported fine must have been looked at.
	StatusNoWindows Status = "no-windows"
	// StatusUndone: `unbrick undo` put the disk back as it was before a
	// fix (UndoneRun names the fix's run): the faulty files are back.
	StatusUndone Status = "undone"
)

// Statuses lists every status in report order.
var Statuses = []Status{StatusRemediated, StatusAlreadyClean, StatusNeedsReview, StatusDryRun, StatusLocked, StatusRefused, StatusFailed,
	StatusUnrecognized, StatusNoWindows, StatusUndone}

// Valid reports whether s is one of Statuses.
func (s Status) Valid() bool {
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}

// Record is one fleet-log line: the outcome for one Windows system volume
// (or one locked volume that could be one) in one run. It has no field for
// a password, recovery password or key, and Append scrubs anything shaped
// like a recovery password from every field as a second line of defence.
type Record struct {
	// RecordID names this record for log shipping (see RecordID).
	RecordID    string    `json:"record_id,omitempty"`
	Time        time.Time `json:"time"`                   // when the volume was done, UTC (clock-corrected when booted on the host: see Clock)
	Clock       *Clock    `json:"clock,omitempty"`        // what the machine's clock said and how Time was derived
	ToolVersion string    `json:"tool_version"`           // unbrick version
	RunID       string    `json:"run_id"`                 // one per unbrick invocation
	Technician  string    `json:"technician,omitempty"`   // --technician
	Host        Host      `json:"host"`                   // who the volume belongs to
	Target      string    `json:"target"`                 // image file or block device given (or found)
	Disk        string    `json:"disk,omitempty"`         // disk model and serial
	Partition   int       `json:"partition"`              // 1-based as Linux numbers it; 0 = whole target
	VolumeID    string    `json:"volume_id,omitempty"`    // BitLocker volume GUID; NTFS serial for unencrypted volumes
	Encryption  string    `json:"encryption,omitempty"`   // "none", "AES-XTS-128", ...
	Protectors  []string  `json:"protectors,omitempty"`   // IDs of the volume's key protectors
	ProtectorID string    `json:"protector_id,omitempty"` // protector that unlocked it
	// RecoveryKeyID is the ID of the recovery password that was used, if
	// one was: that key has been exposed and must be rotated.
	RecoveryKeyID string   `json:"recovery_key_id,omitempty"`
	UnlockMethod  string   `json:"unlock_method,omitempty"` // recovery password, password, startup key, clear key, none
	KeySource     string   `json:"key_source,omitempty"`    // where the key came from: "keys.csv:12", "typed"; never the key
	Rules         []string `json:"rules,omitempty"`         // rule IDs applied
	// RulePack is the rules pack (--rules) the rules came from; nil for
	// the built-in rule.
	RulePack *RulePack `json:"rule_pack,omitempty"`
	Files    []File    `json:"files,omitempty"` // every file a rule matched
	// Services are the disable-service rules' outcomes: the service, what
	// was done (disabled, would-disable, already-disabled, refused, none)
	// and the control sets whose Start value was (or would be) changed.
	Services    []Service     `json:"services,omitempty"`
	Status      Status        `json:"status"`
	Error       string        `json:"error,omitempty"`
	Duration    time.Duration `json:"-"`
	DurationMS  int64         `json:"duration_ms"`
	JournalFile string        `json:"journal_file,omitempty"` // undo journal of this fix (of the fix undone, for status undone)
	// UndoneRun is the run ID of the fix an undo reversed (status undone).
	UndoneRun string `json:"undone_run,omitempty"`
	// FinishedRun is the run ID of an interrupted fix this run finished
	// from its undo journal (roll forward) before doing its own work.
	FinishedRun string `json:"finished_run,omitempty"`
	// JournalReplayed counts, by NTFS log operation, the committed journal
	// records unbrick redid before the fix (--unclean=replay, the default).
	JournalReplayed map[string]int `json:"journal_replayed,omitempty"`
	// JournalRolledBack counts the records of uncommitted transactions
	// the replay rolled back (their changes had reached the disk).
	JournalRolledBack int `json:"journal_rolled_back,omitempty"`
	// JournalAction is what the fix did with an unclean NTFS journal:
	// "replayed", "reset" (emptied; chkdsk runs at next boot) or "refused"
	// (left alone, nothing written); empty when the journal was clean.
	JournalAction    string `json:"journal_action,omitempty"`
	ConfirmationCode string `json:"confirmation_code"` // see ConfirmationCode
}

// RulePack names the rules pack a record's rules came from and whether
// its signature was checked.
type RulePack struct {
	ID      string `json:"id"`                // the pack's "id", else its file name
	Version string `json:"version,omitempty"` // the pack's "version"
	SHA256  string `json:"sha256"`            // of the pack file
	// Signer and KeyFingerprint name who signed it (the allowed-signers
	// principals and the key's SHA256:... fingerprint), when the
	// signature verified.
	Signer         string `json:"signer,omitempty"`
	KeyFingerprint string `json:"key_fingerprint,omitempty"`
	// Signature is "signed by ..." or, when the check was overridden,
	// "unsigned (allowed by --allow-unsigned-rules)" or "signature not
	// verified (allowed by --allow-unsigned-rules): why".
	Signature string `json:"signature"`
	// Expired is set when a pack past its expires date was used
	// (--allow-expired-rules).
	Expired string `json:"expired,omitempty"`
}

// Clock records the machine clock. Windows keeps the hardware clock in
// local time, so when unbrick runs booted on the host the Linux clock reads
// local time as if it were UTC; the engine corrects it with the time-zone
// bias from the SYSTEM hive and records both.
type Clock struct {
	System      time.Time `json:"system"`                 // the clock as read
	BiasMinutes *int      `json:"bias_minutes,omitempty"` // UTC = local + bias (Windows ActiveTimeBias)
	Source      string    `json:"source,omitempty"`       // "SYSTEM hive ActiveTimeBias", "system clock (UTC)"
}

// Host identifies the machine a volume belongs to.
type Host struct {
	ComputerName string `json:"computer_name,omitempty"` // from the offline SYSTEM hive
	// BitLockerName is the computer name in the BitLocker metadata
	// description (set when BitLocker was turned on): the only name of a
	// locked volume.
	BitLockerName string `json:"bitlocker_name,omitempty"`
	Vendor        string `json:"smbios_vendor,omitempty"` // /sys/class/dmi/id, when booted on the host
	Model         string `json:"smbios_model,omitempty"`
	Serial        string `json:"smbios_serial,omitempty"`
	UUID          string `json:"smbios_uuid,omitempty"`
}

// Name is the best display name: the hive's computer name, else the
// BitLocker description's.
func (h Host) Name() string {
	if h.ComputerName != "" {
		return h.ComputerName
	}
	return h.BitLockerName
}

// File is one file a rule matched.
type File struct {
	Path   string    `json:"path"`             // volume path, '/'-separated
	Size   int64     `json:"size"`             // bytes
	MTime  time.Time `json:"mtime"`            // $STANDARD_INFORMATION last write, UTC
	SHA256 string    `json:"sha256,omitempty"` // of the content before any change
	Action string    `json:"action"`           // deleted, would-delete, kept, left-for-review, none
	Reason string    `json:"reason,omitempty"` // the rule's reason
	Rule   string    `json:"rule,omitempty"`
}

// Service is what one disable-service rule did on the volume.
type Service struct {
	Rule    string `json:"rule"`
	Service string `json:"service"` // the service's key name under Services
	Action  string `json:"action"`  // disabled, would-disable, already-disabled, refused, none
	Reason  string `json:"reason,omitempty"`
	// ControlSets are the control sets whose Services\<service>\Start
	// was changed (would be, for a dry run), with the value before and
	// after; empty when none was.
	ControlSets []ControlSet `json:"control_sets,omitempty"`
}

// ControlSet is one control set's Start value change.
type ControlSet struct {
	Name        string   `json:"name"`     // "ControlSet001"
	Selected    []string `json:"selected"` // the Select values naming it: Current, Default, LastKnownGood
	StartBefore uint32   `json:"start_before"`
	StartAfter  uint32   `json:"start_after"`
}
