package keys

import (
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// field is one named value of a row, object or LDIF entry, with the line it
// sits on. bin holds the raw bytes of a binary LDIF value (attr:: base64).
type field struct {
	name  string
	value string
	bin   []byte
	line  int
	role  role // roleOf(name), when known is set (CSV computes it once per column)
	known bool
}

func (f *field) roleOf() role {
	if f.known {
		return f.role
	}
	return roleOf(f.name)
}

// record is one candidate key: a CSV row, JSON object, LDIF entry or
// Format-List block.
type record struct {
	line   int
	fields []field
}

// role is what a column means to unbrick.
type role int

const (
	roleNone role = iota
	roleKeyID
	roleWeakKeyID // "id", "guid": a key ID only when no stronger column exists
	rolePassword
	roleComputer
	roleWeakComputer // "name": a computer name, unless it holds "<time>{GUID}" (AD object name)
	roleDN
	roleDeviceID
	roleSerial
	roleProtectorType // KeyProtectorType: rows of other protector types (TPM...) carry no password
)

// columnRoles maps a normalised column name (lower-case, without spaces,
// dashes, underscores and dots) to its role. Sources, per format:
//   - AD DS: msFVE-RecoveryGuid, msFVE-RecoveryPassword, CN/Name `<time>{GUID}`
//     under the computer object, distinguishedName (MS-ADA2; learn.microsoft.com
//     adschema a-msfve-recoveryguid).
//   - Microsoft Graph bitlockerRecoveryKey: id, key, deviceId, createdDateTime,
//     volumeType; device names come from /devices (displayName, deviceName).
//   - MBAM / ConfigMgr RecoveryAndHardwareCore: RecoveryKeyId, RecoveryKey,
//     Machines.Name.
//   - CrowdStrike recovery tool BitLockerKeys.csv: KeyID, RecoveryKey, Hostname.
//   - community CSVs: Id/Key, ID/Key, Serial/Password, HostName/RecoveryPassword.
//
// "objectGUID" is deliberately absent: it is the AD object's own GUID, not a
// key protector ID.
var columnRoles = map[string]role{
	"keyid": roleKeyID, "recoverykeyid": roleKeyID, "msfverecoveryguid": roleKeyID,
	"recoveryguid": roleKeyID, "protectorid": roleKeyID, "keyprotectorid": roleKeyID,
	"bitlockerkeyid": roleKeyID, "recoverypasswordid": roleKeyID, "passwordid": roleKeyID,
	"bitlockerrecoverykeyid": roleKeyID, "recoveryid": roleKeyID,
	"id": roleWeakKeyID, "guid": roleWeakKeyID,

	"recoverypassword": rolePassword, "msfverecoverypassword": rolePassword,
	"recoverykey": rolePassword, "key": rolePassword, "password": rolePassword,
	"bitlockerrecoverykey": rolePassword, "bitlockerrecoverypassword": rolePassword,
	"bitlockerkey": rolePassword, "numericalpassword": rolePassword,

	"computername": roleComputer, "computer": roleComputer, "hostname": roleComputer,
	"host": roleComputer, "devicename": roleComputer, "device": roleComputer,
	"machinename": roleComputer, "machine": roleComputer, "displayname": roleComputer,
	"dnshostname": roleComputer, "samaccountname": roleComputer, "computerobject": roleComputer,
	"name": roleWeakComputer, "cn": roleWeakComputer,

	"distinguishedname": roleDN, "dn": roleDN,

	"deviceid": roleDeviceID, "azureaddeviceid": roleDeviceID, "entradeviceid": roleDeviceID,
	"aaddeviceid": roleDeviceID,

	"keyprotectortype": roleProtectorType, "protectortype": roleProtectorType,

	"serial": roleSerial, "serialnumber": roleSerial, "biosserial": roleSerial,
	"biosserialnumber": roleSerial, "serialno": roleSerial, "servicetag": roleSerial,
}

func normColumn(s string) string {
	s = strings.TrimSpace(strings.Trim(strings.TrimSpace(s), `"'`))
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch r {
		case ' ', '-', '_', '.', '\t':
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func roleOf(name string) role { return columnRoles[normColumn(name)] }

// adNameRE matches an AD recovery object name: "<time>{GUID}", e.g.
// "2021-10-08T12:34:56-08:00{3C116B76-C67B-484E-B439-CE2ED68B561E}".
var adNameRE = regexp.MustCompile(`\{([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})\}\s*$`)

// toEntry maps a record to an entry. It returns ok=false with no problem
// for records that carry no key at all (blank rows, other AD objects).
func toEntry(file string, f Format, r record) (Entry, *Problem, bool) {
	e := Entry{Source: file, Line: r.line, Format: f}
	var (
		strongID, weakID, pw, adName *field
		dn                           *field
		weakComputer                 string
	)
	for i := range r.fields {
		fd := &r.fields[i]
		v := strings.TrimSpace(fd.value)
		switch fd.roleOf() {
		case roleKeyID:
			if v != "" || fd.bin != nil {
				strongID = fd
			}
		case roleWeakKeyID:
			if v != "" {
				weakID = fd
			}
		case rolePassword:
			if v != "" {
				pw = fd
			}
		case roleComputer:
			if v != "" && e.ComputerName == "" {
				e.ComputerName = v
			}
		case roleWeakComputer:
			if adNameRE.MatchString(v) {
				adName = fd
			} else if v != "" && weakComputer == "" {
				weakComputer = v
			}
		case roleDN:
			if v != "" {
				dn = fd
			}
		case roleDeviceID:
			e.DeviceID = v
		case roleSerial:
			e.Serial = v
		case roleProtectorType:
			if t := normColumn(v); t != "" && t != "recoverypassword" && t != "numericalpassword" {
				return e, nil, false // a TPM, PIN or key-file protector: nothing to use, nothing wrong
			}
		}
	}
	if dn != nil {
		id, computer := parseRecoveryDN(dn.value)
		if e.ComputerName == "" {
			e.ComputerName = computer
		}
		if adName == nil && id != "" {
			adName = &field{name: "distinguishedName", value: "{" + id + "}", line: dn.line}
		}
	}
	if e.ComputerName == "" {
		e.ComputerName = weakComputer
	}
	if pw == nil {
		if strongID == nil && weakID == nil && adName == nil {
			return e, nil, false // not a key record at all
		}
		return e, &Problem{File: file, Line: r.line, Msg: "row has a key ID but no recovery password"}, false
	}
	norm, err := NormalizeRecoveryPassword(pw.value)
	if err != nil {
		return e, &Problem{File: file, Line: pw.line, Msg: err.Error()}, false
	}
	e.RecoveryPassword = norm

	// Key ID: the AD object name "<time>{GUID}" first (it is text, so no
	// byte-order question), then the explicit column (msFVE-RecoveryGuid in
	// its binary forms, KeyID, RecoveryKeyId...), then a bare "id"/"guid".
	for _, cand := range []*field{adName, strongID, weakID} {
		if cand == nil {
			continue
		}
		id, err := keyIDFromField(cand)
		if err != nil {
			return e, &Problem{File: file, Line: cand.line, Msg: fmt.Sprintf("column %s: %v", cand.name, err)}, false
		}
		if id != "" {
			e.KeyID = id
			break
		}
	}
	if e.KeyID == "" && e.ComputerName == "" && e.Serial == "" {
		return e, &Problem{File: file, Line: r.line, Msg: "row has a recovery password but no key ID, computer name or serial to match it by"}, false
	}
	return e, nil, true
}

// keyIDFromField reads a key ID from the forms exports use: a GUID string
// with or without braces; "<time>{GUID}" (AD object name); X'hex' (csvde's
// form for binary attributes); raw 16 bytes (ldifde "attr:: base64"). An
// Export-Csv of an un-converted byte array ("System.Byte[]") yields "" so a
// later column may supply the ID.
func keyIDFromField(f *field) (string, error) {
	if f.bin != nil {
		return guidFromBytes(f.bin)
	}
	v := strings.TrimSpace(f.value)
	if m := adNameRE.FindStringSubmatch(v); m != nil {
		return NormalizeKeyID(m[1])
	}
	if strings.EqualFold(v, "System.Byte[]") {
		return "", nil
	}
	if len(v) >= 3 && (v[0] == 'X' || v[0] == 'x') && v[1] == '\'' && v[len(v)-1] == '\'' {
		b, err := hex.DecodeString(v[2 : len(v)-1])
		if err != nil {
			return "", fmt.Errorf("binary GUID X'...' is not hex")
		}
		return guidFromBytes(b)
	}
	return NormalizeKeyID(v)
}

// parseRecoveryDN takes the distinguished name of an msFVE-RecoveryInformation
// object, "CN=<time>{GUID},CN=<computer>,OU=...,DC=...", and returns the GUID
// and the computer's CN. Escaped commas (\,) are honoured.
func parseRecoveryDN(dn string) (id, computer string) {
	rdns := splitDN(dn)
	if len(rdns) == 0 {
		return "", ""
	}
	first := rdnValue(rdns[0])
	if m := adNameRE.FindStringSubmatch(first); m != nil {
		id, _ = NormalizeKeyID(m[1])
		if len(rdns) > 1 {
			computer = rdnValue(rdns[1])
		}
	}
	return id, computer
}

func splitDN(dn string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(dn); i++ {
		c := dn[i]
		switch {
		case c == '\\' && i+1 < len(dn):
			cur.WriteByte(dn[i+1])
			i++
		case c == ',':
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

func rdnValue(rdn string) string {
	if i := strings.IndexByte(rdn, '='); i >= 0 {
		return strings.TrimSpace(rdn[i+1:])
	}
	return rdn
}
