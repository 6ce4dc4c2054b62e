package hostid

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
)

// System is what unbrick takes from an offline SYSTEM hive.
type System struct {
	// ControlSet is the control set Select\Current names ("ControlSet001").
	ControlSet string
	// ComputerName is ControlSetNNN\Control\ComputerName\ComputerName,
	// value ComputerName: the NetBIOS name Windows boots with.
	ComputerName string
	// Hostname is ControlSetNNN\Services\Tcpip\Parameters "Hostname"
	// (the DNS host label), "" when absent; Domain likewise "Domain".
	Hostname, Domain string
	// TimeZone is ControlSetNNN\Control\TimeZoneInformation; nil when the
	// key is absent.
	TimeZone *TimeZone
	// HiveDirty: the hive's sequence numbers differ, so recent changes
	// may be only in SYSTEM.LOG1/LOG2 (a rename just before the crash
	// could be missing).
	HiveDirty bool
	// Notes lists what was missing or odd, for the log.
	Notes []string
}

// TimeZone is the time-zone state Windows left in the hive. Biases are in
// minutes, as Windows stores them: UTC = local time + bias.
type TimeZone struct {
	Bias           int32  // standard bias
	ActiveTimeBias int32  // bias in force when Windows last ran (includes DST)
	HasActive      bool   // ActiveTimeBias was present
	KeyName        string // TimeZoneKeyName, "W. Europe Standard Time"
	// RealTimeIsUniversal: the hardware clock is kept in UTC (value 1),
	// not in local time as Windows does by default.
	RealTimeIsUniversal bool
}

// EffectiveBias is ActiveTimeBias when present, else Bias.
func (tz *TimeZone) EffectiveBias() time.Duration {
	b := tz.Bias
	if tz.HasActive {
		b = tz.ActiveTimeBias
	}
	return time.Duration(b) * time.Minute
}

// HardwareClockToUTC corrects a reading of the machine's hardware clock,
// taken as if it were UTC (what Linux does when booted on the host), to
// real UTC: Windows keeps the hardware clock in local time unless
// RealTimeIsUniversal is set, so UTC = clock + bias.
func (tz *TimeZone) HardwareClockToUTC(clock time.Time) time.Time {
	if tz == nil || tz.RealTimeIsUniversal {
		return clock.UTC()
	}
	return clock.UTC().Add(tz.EffectiveBias())
}

// ReadSystemBytes is ReadSystem on a hive held in memory.
func ReadSystemBytes(hive []byte) (*System, error) {
	return ReadSystem(bytes.NewReader(hive), int64(len(hive)))
}

// ReadSystem reads the computer name and time zone from an offline SYSTEM
// hive: Select\Current gives the control set N, then ControlSet00N.
func ReadSystem(r io.ReaderAt, size int64) (*System, error) {
	h, err := OpenHive(r, size)
	if err != nil {
		return nil, fmt.Errorf("SYSTEM hive: %w", err)
	}
	s := &System{HiveDirty: h.Dirty()}
	if s.HiveDirty {
		s.Notes = append(s.Notes, "hive has unflushed changes in its transaction logs; values may be stale")
	}
	cs, note, err := currentControlSet(h)
	if err != nil {
		return nil, fmt.Errorf("SYSTEM hive: %w", err)
	}
	if note != "" {
		s.Notes = append(s.Notes, note)
	}
	s.ControlSet = cs
	k, err := h.Key(cs + `\Control\ComputerName\ComputerName`)
	if err != nil {
		return nil, fmt.Errorf("SYSTEM hive: computer name: %w", err)
	}
	v, err := k.Value("ComputerName")
	if err != nil {
		return nil, fmt.Errorf("SYSTEM hive: computer name: %w", err)
	}
	if v.Type != RegSZ && v.Type != RegExpandSZ {
		return nil, fmt.Errorf("SYSTEM hive: ComputerName has type %d, not REG_SZ", v.Type)
	}
	s.ComputerName = v.String()
	if s.ComputerName == "" {
		return nil, errors.New("SYSTEM hive: ComputerName is empty")
	}
	if k, err := h.Key(cs + `\Services\Tcpip\Parameters`); err == nil {
		if v, err := k.Value("Hostname"); err == nil {
			s.Hostname = v.String()
		}
		if v, err := k.Value("Domain"); err == nil {
			s.Domain = v.String()
		}
	}
	if k, err := h.Key(cs + `\Control\TimeZoneInformation`); err == nil {
		tz := &TimeZone{}
		if v, err := k.Value("Bias"); err == nil {
			if u, err := v.Uint32(); err == nil {
				tz.Bias = int32(u)
			}
		}
		if v, err := k.Value("ActiveTimeBias"); err == nil {
			if u, err := v.Uint32(); err == nil {
				tz.ActiveTimeBias, tz.HasActive = int32(u), true
			}
		}
		if v, err := k.Value("TimeZoneKeyName"); err == nil {
			tz.KeyName = v.String()
		}
		if v, err := k.Value("RealTimeIsUniversal"); err == nil {
			if u, err := v.Uint32(); err == nil && u == 1 {
				tz.RealTimeIsUniversal = true
			} else if len(v.Data) == 8 && v.Data[0] == 1 { // seen as REG_QWORD too
				tz.RealTimeIsUniversal = true
			}
		}
		s.TimeZone = tz
	} else {
		s.Notes = append(s.Notes, "no TimeZoneInformation key: cannot correct the hardware clock")
	}
	return s, nil
}

// currentControlSet reads Select\Current (falling back to Select\Default,
// then ControlSet001 with a note).
func currentControlSet(h *Hive) (string, string, error) {
	sel, err := h.Key("Select")
	if err != nil {
		if _, err2 := h.Key("ControlSet001"); err2 == nil {
			return "ControlSet001", "no Select key; using ControlSet001", nil
		}
		return "", "", fmt.Errorf("no Select key and no ControlSet001: %w", err)
	}
	for _, name := range []string{"Current", "Default"} {
		v, err := sel.Value(name)
		if err != nil {
			continue
		}
		n, err := v.Uint32()
		if err != nil || n == 0 || n > 999 {
			continue
		}
		cs := fmt.Sprintf("ControlSet%03d", n)
		if _, err := h.Key(cs); err != nil {
			return "", "", fmt.Errorf("Select\\%s names %s, which does not exist", name, cs)
		}
		note := ""
		if name != "Current" {
			note = "Select\\Current missing; using Select\\Default"
		}
		return cs, note, nil
	}
	return "", "", errors.New(`Select has no usable "Current" or "Default" value`)
}
