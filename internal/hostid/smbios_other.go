//go:build !windows

package hostid

// readPlatformSMBIOS: outside Windows, ReadSMBIOS reads the DMI folder
// (ok false).
func readPlatformSMBIOS() (s *SMBIOS, ok bool, err error) { return nil, false, nil }
