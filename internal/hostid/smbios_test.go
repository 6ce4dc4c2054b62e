package hostid

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReadSMBIOSFake(t *testing.T) {
	root := t.TempDir()
	for name, content := range map[string]string{
		"sys_vendor":     "LENOVO\n",
		"product_name":   "20XW0055GE\n",
		"product_serial": "PF2ABCDE\n",
		"product_uuid":   "4c4c4544-0043-3510-8052-b4c04f4e4a32\n",
		"product_family": "ThinkPad X1 Carbon Gen 9\n",
		"board_serial":   "To be filled by O.E.M.\n",
		"chassis_serial": "Default string\n",
		"bios_vendor":    "LENOVO\n",
	} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	s, err := ReadSMBIOS(root)
	if err != nil {
		t.Fatal(err)
	}
	want := SMBIOS{Vendor: "LENOVO", Model: "20XW0055GE", Serial: "PF2ABCDE", UUID: "4C4C4544-0043-3510-8052-B4C04F4E4A32",
		Family: "ThinkPad X1 Carbon Gen 9", BIOSVendor: "LENOVO"}
	if *s != want {
		t.Errorf("got %+v\nwant %+v", *s, want)
	}
	if _, err := ReadSMBIOS(filepath.Join(root, "missing")); err == nil {
		t.Errorf("missing root accepted")
	}
}

// TestReadSMBIOSHere reads this machine's DMI (a VM here): the vendor
// must equal what sysfs holds, read independently.
func TestReadSMBIOSHere(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(DefaultDMIRoot, "sys_vendor"))
	if err != nil {
		t.Skip("no DMI on this machine")
	}
	s, err := ReadSMBIOS("")
	if err != nil {
		t.Fatal(err)
	}
	if v := string(raw); s.Vendor == "" && len(v) > 1 && !placeholders[v[:len(v)-1]] {
		t.Errorf("vendor empty; sysfs says %q", v)
	}
}
