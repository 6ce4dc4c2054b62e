package bitlocker

import (
	"fmt"
	"time"
)

// ProtectorType names how a key protector (a VMK entry) unlocks the volume.
type ProtectorType string

// Protector types, from the VMK entry's protection field (libbde
// documentation "Key protection types"; dissect.fve FVE_KEY_PROTECTOR: the
// high byte is a set of flags 0x01 TPM, 0x02 startup key, 0x04 PIN,
// 0x08 recovery password, 0x20 password).
const (
	ProtectorClearKey           ProtectorType = "clear key"
	ProtectorTPM                ProtectorType = "TPM"
	ProtectorStartupKey         ProtectorType = "startup key"
	ProtectorTPMPIN             ProtectorType = "TPM and PIN"
	ProtectorTPMStartupKey      ProtectorType = "TPM and startup key"
	ProtectorTPMPINStartupKey   ProtectorType = "TPM, PIN and startup key"
	ProtectorRecoveryPassword   ProtectorType = "recovery password"
	ProtectorPassword           ProtectorType = "password"
	ProtectorPublicKey          ProtectorType = "public key"
	protectorUnknownPlaceholder ProtectorType = "unknown"
)

// Protection codes in the VMK entry.
const (
	protectionClearKey         = 0x0000
	protectionTPM              = 0x0100
	protectionStartupKey       = 0x0200
	protectionTPMStartupKey    = 0x0300
	protectionTPMPIN           = 0x0500
	protectionTPMPINStartupKey = 0x0700
	protectionRecoveryPassword = 0x0800
	protectionPublicKey        = 0x1000
	protectionPassword         = 0x2000
)

func protectorTypeOf(code uint16) ProtectorType {
	switch code {
	case protectionClearKey:
		return ProtectorClearKey
	case protectionTPM:
		return ProtectorTPM
	case protectionStartupKey:
		return ProtectorStartupKey
	case protectionTPMStartupKey:
		return ProtectorTPMStartupKey
	case protectionTPMPIN, 0x0400:
		return ProtectorTPMPIN
	case protectionTPMPINStartupKey, 0x0600:
		return ProtectorTPMPINStartupKey
	case protectionRecoveryPassword:
		return ProtectorRecoveryPassword
	case protectionPublicKey:
		return ProtectorPublicKey
	case protectionPassword:
		return ProtectorPassword
	}
	return ProtectorType(fmt.Sprintf("%s (0x%04x)", protectorUnknownPlaceholder, code))
}

// Protector is one key protector of a volume: a copy of the volume master
// key (VMK) wrapped for one way of unlocking.
type Protector struct {
	Type  ProtectorType `json:"type"`
	ID    string        `json:"id"`              // GUID, upper case, no braces
	Code  uint16        `json:"protection_code"` // raw protection field
	Time  time.Time     `json:"time"`            // last modification (UTC)
	Label string        `json:"label,omitempty"` // e.g. "DiskPassword", "ExternalKey"
	vmk   *vmkValue
}

// protectorsOf lists the VMK entries of a dataset.
func protectorsOf(es []entry) []Protector {
	var out []Protector
	for _, e := range findEntries(es, entryVMK, valueVMK) {
		v := e.value.(*vmkValue)
		p := Protector{
			Type: protectorTypeOf(v.Protection),
			ID:   v.ID.String(),
			Code: v.Protection,
			Time: filetime(v.Modified),
			vmk:  v,
		}
		if s, ok := firstValue(v.Entries, valueUnicode).(string); ok {
			p.Label = s
		}
		out = append(out, p)
	}
	return out
}
