package remedy

import (
	"strings"
	"time"

	"github.com/unbrick/unbrick/internal/fleetlog"
)

// FleetRecord turns a volume report into its fleet log record. It carries
// key protector IDs and where a key came from, never a key.
// Who ran it, and where, is o.Identity.
func (v *Volume) FleetRecord(o *Options) *fleetlog.Record {
	id := &o.Identity
	r := &fleetlog.Record{
		Time:        v.Finished,
		ToolVersion: id.ToolVersion,
		RunID:       id.RunID,
		Technician:  id.Technician,
		RulePack:    id.RulePack,
		Host:        fleetlog.Host{ComputerName: v.ComputerName},
		Target:      v.Target,
		Disk:        v.Disk,
		Partition:   v.Partition,
		VolumeID:    v.VolumeID,
		Encryption:  v.Encryption,
		Rules:       v.Rules,
		Status:      fleetlog.Status(v.Status),
		Error:       v.Error,
		Duration:    v.Duration,
		JournalFile: v.JournalFile,
		FinishedRun: v.FinishedRun,
	}
	if j := v.Journal; j != nil {
		if len(j.Replayed) > 0 {
			r.JournalReplayed = j.Replayed
		}
		r.JournalAction = j.Action(v.Status)
		r.JournalRolledBack = j.RolledBack
	}
	if id.OnHost && v.clockTZ != nil {
		bias := int(v.clockTZ.EffectiveBias() / time.Minute)
		r.Time = v.clockTZ.HardwareClockToUTC(v.Finished)
		r.Clock = &fleetlog.Clock{System: v.Finished, BiasMinutes: &bias, Source: "SYSTEM hive time zone (hardware clock in local time)"}
		if v.clockTZ.RealTimeIsUniversal {
			r.Clock.Source = "SYSTEM hive: RealTimeIsUniversal (hardware clock in UTC)"
		}
	}
	if s := id.SMBIOS; s != nil {
		r.Host.Vendor, r.Host.Model, r.Host.Serial, r.Host.UUID = s.Vendor, s.Model, s.Serial, s.UUID
	}
	r.Encryption = "none"
	if bl := v.BitLocker; bl != nil {
		r.Encryption = bl.Method
		if f := strings.Fields(bl.Description); len(f) > 0 {
			r.Host.BitLockerName = f[0]
		}
		for _, p := range bl.Protectors {
			r.Protectors = append(r.Protectors, p.ID)
		}
		r.ProtectorID, r.RecoveryKeyID, r.UnlockMethod, r.KeySource = bl.ProtectorID, bl.RecoveryKeyID, bl.UnlockMethod, bl.KeySource
	} else {
		r.UnlockMethod = "none"
	}
	for _, f := range v.Files {
		r.Files = append(r.Files, fleetlog.File{Path: f.Path, Size: f.Size, MTime: f.MTime, SHA256: f.SHA256,
			Action: f.Action, Reason: f.Reason, Rule: f.Rule})
	}
	for _, sv := range v.Services {
		fs := fleetlog.Service{Rule: sv.Rule, Service: sv.Service, Action: sv.Action, Reason: sv.Reason}
		if sv.Action != ActionRefused && sv.Action != ActionAlreadyDisabled {
			for _, c := range sv.ControlSets {
				if c.Changed() {
					fs.ControlSets = append(fs.ControlSets, fleetlog.ControlSet{Name: c.ControlSet, Selected: c.Selected, StartBefore: c.Old, StartAfter: c.New})
				}
			}
		}
		r.Services = append(r.Services, fs)
	}
	fleetlog.Prepare(r)
	return r
}
