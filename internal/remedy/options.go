package remedy

import (
	"time"

	"github.com/unbrick/unbrick/bitlocker"
	"github.com/unbrick/unbrick/internal/fleetlog"
	"github.com/unbrick/unbrick/internal/hostid"
	"github.com/unbrick/unbrick/internal/rules"
	"github.com/unbrick/unbrick/internal/undo"
	"github.com/unbrick/unbrick/ntfs"
)

// Options configure Scan and Fix.
type Options struct {
	// Keys are the keys tried on BitLocker volumes: the key export, typed
	// keys, the host's SMBIOS serial and the key cache (KeyOptions).
	Keys KeyOptions
	// Rules decide which files are faulty (nil: the built-in rule).
	Rules *rules.Set
	// Fix says how Fix writes (Scan ignores it).
	Fix FixOptions
	// Hooks are the front end's callbacks.
	Hooks Hooks
	// Identity is who runs unbrick, and where, for the fleet log.
	Identity Identity

	Parallel int // targets processed at once (>= 1)
	// Waves pace a run over many targets and stop it early on failures
	// (the zero value: one wave, no limit).
	Waves Waves
	// Stream makes a run over many targets hold memory that does not
	// grow with their number: each target's reports go to Hooks.Target
	// as the target finishes (that is where a front end renders and
	// counts them) and the engine then drops them. Scan and Fix return
	// only the reports the caller still has to hear about at the end:
	// those whose fleet log record could not be saved (Volume.LogError),
	// once more, after the end-of-run retry (which may have cleared
	// LogError), in target order. Hooks.Target saw them too, with
	// LogError set.
	//
	// Stream is ignored when the engine must see every report before it
	// can report at all: Identity.OnHost without Hooks.Select (a host
	// with no Windows on any of its disks is reported once, at the end);
	// the run then returns every report, as without Stream.
	Stream bool
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time

	// journals is the journal folder's incomplete journals, read once by
	// Fix before it starts any target (nil: read per volume).
	journals    *undo.Index
	journalsErr error
}

// FixOptions say how Fix writes.
type FixOptions struct {
	// DryRun plans (and stages in memory) but writes nothing.
	DryRun bool
	// Unclean is what fix does with an unclean NTFS journal: replay (the
	// default, also for ""), refuse or reset. UncleanFallback is what it
	// does when a replay is impossible (an operation unbrick cannot redo,
	// a damaged log): refuse (the default, also for "") or reset.
	Unclean         ntfs.UncleanPolicy
	UncleanFallback ntfs.UncleanPolicy
	// JournalDir holds the undo journals (and is searched for those of
	// interrupted fixes). Fix never writes without one.
	JournalDir string
	// Approve, when set, is asked about each needs-review file of a volume
	// (v is the report so far); true deletes it as if the rule had called
	// it faulty. Nil: such files are left alone.
	Approve func(v *Volume, f File) bool
}

// Hooks are the callbacks of a front end. Each must be safe for concurrent
// use (targets run in parallel).
type Hooks struct {
	// Log receives one record per tracked volume as soon as it is done
	// (nil: no fleet log). An error is kept in Volume.LogError and the
	// record is tried once more at the end of the run.
	Log func(*Volume) error
	// Progress, when set, is told when a volume enters each Step (unlock,
	// evaluate, plan, journal, write, verify, done). v is the volume's
	// report so far (Target, Partition, VolumeID...). It must be quick.
	Progress func(v *Volume, step Step)
	// Select, when set, limits the work to the volumes it accepts: it is
	// asked about each candidate volume of a target (partition as Linux
	// numbers it, 0 = the whole target is the volume) before the volume
	// is opened, and a volume it rejects is neither opened nor reported.
	// The wizard uses it to check a key on one volume and to fix only the
	// volumes the user chose. Nil: every volume.
	Select func(target string, partition int) bool
	// Target, when set, is told when a target is done (every volume of it
	// reported, or it was not started): for progress over many targets.
	Target func(target string, vols []*Volume)
}

// Identity is who runs unbrick, and where: it goes into the fleet log
// (FleetRecord) and the undo journals.
type Identity struct {
	// RunID names the run in journals and records (Fix makes one if "").
	RunID       string
	Technician  string // --technician
	ToolVersion string // unbrick version
	// OnHost: unbrick runs booted on the host whose disks it fixes (no
	// TARGET given), so SMBIOS describes the host and its hardware clock
	// is probably in local time (corrected with the SYSTEM hive's bias).
	// A host without any Windows system volume is then reported once.
	OnHost bool
	// SMBIOS is the host's identity when OnHost (nil otherwise). Its
	// serial is Keys.Serial for the key export lookup.
	SMBIOS *hostid.SMBIOS
	// RulePack names the rules pack in use (id, version, sha256, signer)
	// in every record; nil for the built-in rule.
	RulePack *fleetlog.RulePack
}

// TypedKey is a key given on the command line or in the wizard: the
// bitlocker.Key and a label for reports ("--recovery-password", "--bek
// FILE"); never the secret itself.
type TypedKey struct {
	Key    bitlocker.Key
	Source string
	// VolumeGUID, when set, scopes the key to the BitLocker volume with
	// this GUID (braces and case ignored): it is not tried on any other
	// volume, where it would only cost a 2^20-round stretch to fail. The
	// wizard scopes each key the user types to the volume it was asked
	// for. "": tried on every BitLocker volume (command-line keys).
	VolumeGUID string
}

// appliesTo reports whether the key may be tried on the volume with this
// GUID.
func (k TypedKey) appliesTo(volumeGUID string) bool {
	return k.VolumeGUID == "" || normGUID(k.VolumeGUID) == normGUID(volumeGUID)
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now().UTC()
	}
	return time.Now().UTC()
}

// writing reports whether a fix call writes (not a dry run).
func (o *Options) writing(fix bool) bool { return fix && !o.Fix.DryRun }

// uncleanPolicy is the journal policy fix starts with: Fix.Unclean,
// replay when unset.
func (f *FixOptions) uncleanPolicy() ntfs.UncleanPolicy {
	if f.Unclean == "" {
		return ntfs.UncleanReplay
	}
	return f.Unclean
}

// uncleanFallback is the policy fix falls back to when a replay is
// impossible: Fix.UncleanFallback, refuse when unset.
func (f *FixOptions) uncleanFallback() ntfs.UncleanPolicy {
	if f.UncleanFallback == "" {
		return ntfs.UncleanRefuse
	}
	return f.UncleanFallback
}
