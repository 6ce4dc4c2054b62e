package regf

import (
	"errors"
	"fmt"
)

// FormatError is a hive that does not follow the format: it names the
// structure, its file offset (from the start of the hive file, base block
// included) and the field at fault, like debug/elf's FormatError.
type FormatError struct {
	Structure string // "base block", "hbin", "cell", "nk", "lf", "vk", ...
	Offset    int64  // file offset of the structure (or of the field)
	Field     string // field name as the specification names it, "" if none
	Msg       string
}

func (e *FormatError) Error() string {
	s := fmt.Sprintf("regf: %s at file offset 0x%x", e.Structure, e.Offset)
	if e.Field != "" {
		s += ": field " + e.Field
	}
	return s + ": " + e.Msg
}

func formatErr(structure string, off int64, field, format string, a ...any) error {
	return &FormatError{Structure: structure, Offset: off, Field: field, Msg: fmt.Sprintf(format, a...)}
}

// Sentinels for errors.Is. A *RefusedError matches ErrRefused and its
// Reason's sentinel.
var (
	ErrRefused      = errors.New("regf: change refused")
	ErrTooLarge     = errors.New("regf: hive larger than MaxHiveSize")
	ErrDirty        = errors.New("regf: hive is dirty (primary and secondary sequence numbers differ)")
	ErrChecksum     = errors.New("regf: base block checksum is wrong")
	ErrNoSelect     = errors.New("regf: Select key or value missing or invalid")
	ErrNoControlSet = errors.New("regf: control set named by Select is missing")
	ErrNoServiceKey = errors.New("regf: service key missing")
	ErrNoValue      = errors.New("regf: value missing")
	ErrWrongType    = errors.New("regf: value is not a 4-byte REG_DWORD")
	ErrHiveChanged  = errors.New("regf: hive does not hold the plan's before-image")
	ErrNotDisabled  = errors.New("regf: service is not disabled")
)

// RefusedError is a change PlanDisableService will not make: the hive is
// readable but not in a state where an in-place edit is safe or possible.
// Hint says what to do.
type RefusedError struct {
	Reason error  // one of the sentinels above (ErrDirty, ErrChecksum, ...)
	Detail string // which key, value, control set
	Hint   string // what the operator should do
}

func (e *RefusedError) Error() string {
	s := e.Reason.Error()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Is makes errors.Is(err, ErrRefused) and errors.Is(err, e.Reason) true.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused || target == e.Reason }

func refuse(reason error, hint, format string, a ...any) error {
	return &RefusedError{Reason: reason, Detail: fmt.Sprintf(format, a...), Hint: hint}
}
