package bitlocker

import (
	"time"
)

// State is the conversion state of a volume.
type State string

// Volume states, from the current and next state fields of the metadata
// block header.
const (
	StateDecrypted  State = "decrypted"  // BitLocker off: nothing is encrypted
	StateEncrypting State = "encrypting" // conversion to encrypted running
	StateEncrypted  State = "encrypted"
	StateDecrypting State = "decrypting" // conversion to plaintext running
	StatePaused     State = "paused"     // a conversion was paused (see Info.StateDetail)
	StateUnknown    State = "unknown"
)

// Info describes a volume as its header and metadata say.
type Info struct {
	Version         int         `json:"version"`      // 1 Vista, 2 Windows 7 and later
	VersionName     string      `json:"version_name"` // "Windows Vista", "Windows 7 or later"
	VolumeGUID      string      `json:"volume_guid"`
	Method          Method      `json:"-"`
	MethodName      string      `json:"encryption_method"`
	MethodCode      string      `json:"encryption_method_code"` // "0x8004"
	Created         time.Time   `json:"created"`
	Description     string      `json:"description"`
	State           State       `json:"state"`
	StateDetail     string      `json:"state_detail,omitempty"`
	CurrentState    uint16      `json:"current_state_code"`
	NextState       uint16      `json:"next_state_code"`
	Suspended       bool        `json:"protection_suspended"` // a clear key protector exists
	EncryptOnWrite  bool        `json:"encrypt_on_write"`     // "used space only" conversion bitmaps
	EncryptedSize   int64       `json:"encrypted_size"`
	ConvertSize     int64       `json:"convert_size,omitempty"`
	SectorSize      int         `json:"sector_size"`
	Size            int64       `json:"size"`
	ImageSize       int64       `json:"image_size"`
	Short           bool        `json:"image_short"`
	BootSectorsAt   int64       `json:"relocated_boot_sectors_offset,omitempty"` // v2
	BootSectorsSize int64       `json:"relocated_boot_sectors_size,omitempty"`
	MFTMirrorLCN    uint64      `json:"vista_mft_mirror_lcn,omitempty"` // v1
	MetadataOffsets []int64     `json:"metadata_offsets"`
	MetadataSize    int64       `json:"metadata_block_size"`
	MetadataCopy    int         `json:"metadata_copy_used"` // 1-based
	MetadataCopies  []string    `json:"metadata_copies"`    // "valid" or the problem, per copy
	Integrity       string      `json:"metadata_integrity"` // after unlock: "SHA-256 verified", ...
	Protectors      []Protector `json:"protectors"`
	Locked          bool        `json:"locked"`
	UnlockedBy      string      `json:"unlocked_by,omitempty"`
	UnlockedHow     string      `json:"unlocked_how,omitempty"`
}

// Info returns what the header and metadata say about the volume.
func (v *Volume) Info() *Info {
	b := &v.md.Block
	ds := &v.md.Dataset
	in := &Info{
		Version:        int(b.Version),
		VolumeGUID:     ds.VolumeGUID.String(),
		Method:         Method(ds.Method),
		Created:        filetime(ds.Created),
		CurrentState:   b.CurrentState,
		NextState:      b.NextState,
		EncryptOnWrite: v.eow != nil,
		EncryptedSize:  int64(b.EncryptedSize),
		ConvertSize:    int64(b.ConvertSize),
		SectorSize:     v.sectorSize,
		Size:           v.size,
		ImageSize:      v.imageSize,
		Short:          v.Short(),
		MetadataSize:   metadataBlockSize(v.hdr, int(b.Version)),
		MetadataCopy:   v.md.Index + 1,
		Integrity:      v.integrity,
		Protectors:     v.Protectors(),
		Locked:         !v.unlocked,
		UnlockedBy:     v.unlockedBy,
		UnlockedHow:    v.unlockedHow,
	}
	if v.unlocked && v.codec != nil {
		in.Method = v.method
	}
	in.MethodName = in.Method.String()
	in.MethodCode = "0x" + hex16(uint16(in.Method))
	if ds.Method == 0 && in.Method == 0 {
		in.MethodName = "none"
	}
	if b.Version == 1 {
		in.VersionName = "Windows Vista"
		in.MFTMirrorLCN = b.VirtualizedOffset
	} else {
		in.VersionName = "Windows 7 or later"
		in.BootSectorsAt = int64(b.VirtualizedOffset)
		in.BootSectorsSize = int64(b.VirtualizedSectors) * int64(v.sectorSize)
	}
	for _, o := range b.MetadataOffsets {
		in.MetadataOffsets = append(in.MetadataOffsets, int64(o))
	}
	for _, c := range v.copies {
		if c.Err == nil {
			in.MetadataCopies = append(in.MetadataCopies, "valid")
		} else {
			in.MetadataCopies = append(in.MetadataCopies, c.Err.Error())
		}
	}
	if d := findEntries(v.md.Entries, entryDescription, valueUnicode); len(d) > 0 {
		in.Description = d[0].value.(string)
	}
	for _, p := range v.protectors {
		if p.Type == ProtectorClearKey {
			in.Suspended = true
		}
	}
	in.State, in.StateDetail = stateOf(b, v.eow != nil)
	return in
}

func hex16(x uint16) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[x>>12], digits[x>>8&15], digits[x>>4&15], digits[x&15]})
}

func stateOf(b *blockHeader, eow bool) (State, string) {
	dir := ""
	switch b.NextState {
	case stateEncrypted:
		dir = "encryption"
	case stateDecrypted:
		dir = "decryption"
	}
	switch b.CurrentState {
	case stateDecrypted:
		if b.NextState == stateDecrypted {
			return StateDecrypted, "BitLocker is off; the volume is not encrypted"
		}
		return StateEncrypting, "encryption about to start"
	case stateEncrypted:
		if b.NextState == stateEncrypted {
			if eow {
				return StateEncrypted, "used space only: chunks are encrypted as the conversion bitmaps say"
			}
			return StateEncrypted, ""
		}
		return StateDecrypting, "decryption about to start"
	case stateSwitchingDirty, stateSwitching:
		if b.NextState == stateDecrypted {
			return StateDecrypting, "decryption in progress"
		}
		return StateEncrypting, "encryption in progress"
	case statePaused:
		if dir == "" {
			return StatePaused, "conversion paused"
		}
		return StatePaused, dir + " paused"
	}
	return StateUnknown, ""
}
