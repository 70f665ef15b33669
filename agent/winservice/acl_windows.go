package winservice

import (
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

// dataDirSDDL gives SYSTEM (the service's account) and Administrators full
// control, inherited by everything below, and nobody else anything: the
// directory holds the TLS key, OPC UA passwords and the buffer, and
// ProgramData's own ACL would let every local user read them.
const dataDirSDDL = "D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"

// restrictDataDir creates dir if needed and replaces its ACL (and, through
// inheritance, its contents') with dataDirSDDL.
func restrictDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	sd, err := windows.SecurityDescriptorFromString(dataDirSDDL)
	if err != nil {
		return fmt.Errorf("data directory ACL: %w", err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return fmt.Errorf("data directory ACL: %w", err)
	}
	err = windows.SetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil)
	if err != nil {
		return fmt.Errorf("restrict %s to SYSTEM and Administrators: %w", dir, err)
	}
	return nil
}
