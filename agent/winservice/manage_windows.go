package winservice

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"
)

// Restart delays after the first, second and later failures; the SCM
// forgets failures after a day without one. A short first delay rides out
// a crash; the longer ones keep a broken config from spinning.
const (
	restartFirst  = 10 * time.Second
	restartSecond = 30 * time.Second
	restartLater  = 60 * time.Second
	failureReset  = 24 * time.Hour
)

// Install registers the service to run exe with args at boot, then
// Configure sets what CreateService cannot.
func Install(dataDir, exe string, args ...string) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connect to the service control manager: %w", err)
	}
	defer m.Disconnect()
	if s, err := m.OpenService(Name); err == nil {
		s.Close()
		return fmt.Errorf("service %s is already installed (uninstall it first, or use the MSI to upgrade)", Name)
	}
	s, err := m.CreateService(Name, exe, mgr.Config{
		DisplayName:  DisplayName,
		Description:  Description,
		StartType:    mgr.StartAutomatic,
		ErrorControl: mgr.ErrorNormal,
	}, args...)
	if err != nil {
		return fmt.Errorf("create service %s: %w", Name, err)
	}
	s.Close()
	return Configure(dataDir)
}

// Configure makes an installed service start delayed at boot, restart on
// failure (a non-zero exit counts, not only a crash) and log its start and
// stop to the Application event log; and it lets only SYSTEM and
// Administrators into dataDir. The MSI runs it after registering the
// service, because wixl cannot write those settings.
func Configure(dataDir string) error {
	if err := restrictDataDir(dataDir); err != nil {
		return err
	}
	return withService(configure)
}

// configure writes the settings Configure names onto the open service s.
func configure(s *mgr.Service) error {
	// Set field by field: reading the whole config back (s.Config) fails
	// on SCMs that lack a newer query level, such as Wine's.
	delayed := windows.SERVICE_DELAYED_AUTO_START_INFO{IsDelayedAutoStartUp: 1}
	if err := windows.ChangeServiceConfig2(s.Handle, windows.SERVICE_CONFIG_DELAYED_AUTO_START_INFO, (*byte)(unsafe.Pointer(&delayed))); unsupported(err) != nil {
		return fmt.Errorf("set delayed start of %s: %w", Name, err)
	}
	desc := windows.SERVICE_DESCRIPTION{Description: windows.StringToUTF16Ptr(Description)}
	if err := windows.ChangeServiceConfig2(s.Handle, windows.SERVICE_CONFIG_DESCRIPTION, (*byte)(unsafe.Pointer(&desc))); err != nil {
		return fmt.Errorf("set description of %s: %w", Name, err)
	}
	actions := []mgr.RecoveryAction{
		{Type: mgr.ServiceRestart, Delay: restartFirst},
		{Type: mgr.ServiceRestart, Delay: restartSecond},
		{Type: mgr.ServiceRestart, Delay: restartLater},
	}
	if err := s.SetRecoveryActions(actions, uint32(failureReset/time.Second)); err != nil {
		return fmt.Errorf("set recovery actions of %s: %w", Name, err)
	}
	if err := s.SetRecoveryActionsOnNonCrashFailures(true); unsupported(err) != nil {
		return fmt.Errorf("set recovery on failure exit of %s: %w", Name, err)
	}
	// A source left by an earlier install is replaced, not an error.
	eventlog.Remove(Name)
	if err := eventlog.InstallAsEventCreate(Name, eventlog.Error|eventlog.Warning|eventlog.Info); err != nil {
		return fmt.Errorf("register event log source %s: %w", Name, err)
	}
	return nil
}

// RemoveEventSource unregisters the event log source; the MSI runs it on
// uninstall, where the service itself is removed by ServiceControl.
func RemoveEventSource() error {
	if err := eventlog.Remove(Name); err != nil {
		return fmt.Errorf("remove event log source %s: %w", Name, err)
	}
	return nil
}

// unsupported drops the error of a setting the SCM does not know. Windows
// has known delayed start and recovery on a failure exit since Vista; Wine's
// SCM, which the tests install the MSI into, knows neither, and there the
// service still starts at boot and is restarted when it crashes.
func unsupported(err error) error {
	if errors.Is(err, windows.ERROR_INVALID_LEVEL) {
		return nil
	}
	return err
}

// Uninstall stops the service if it runs, removes it and its event log
// source. The config, buffer and certificates under ProgramData stay.
func Uninstall(timeout time.Duration) error {
	if err := Stop(timeout); err != nil && !errors.Is(err, windows.ERROR_SERVICE_NOT_ACTIVE) {
		return err
	}
	err := withService(func(s *mgr.Service) error {
		if err := s.Delete(); err != nil {
			return fmt.Errorf("delete service %s: %w", Name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	eventlog.Remove(Name)
	return nil
}

// Start starts the service and waits until it runs, or reports that it
// stopped again (a bad config stops it within a second).
func Start(timeout time.Duration) error {
	return withService(func(s *mgr.Service) error {
		if err := s.Start(); err != nil {
			return fmt.Errorf("start service %s: %w", Name, err)
		}
		st, err := waitState(s, svc.Running, timeout)
		if err != nil {
			return err
		}
		if st.State != svc.Running {
			return fmt.Errorf("service %s stopped right after starting (exit code %d); see the log file", Name, st.ServiceSpecificExitCode)
		}
		return nil
	})
}

// Stop asks the service to stop and waits until it has: the agent drains
// in-flight acks and closes its buffer first.
func Stop(timeout time.Duration) error {
	return withService(func(s *mgr.Service) error {
		if _, err := s.Control(svc.Stop); err != nil {
			return fmt.Errorf("stop service %s: %w", Name, err)
		}
		st, err := waitState(s, svc.Stopped, timeout)
		if err != nil {
			return err
		}
		if st.State != svc.Stopped {
			return fmt.Errorf("service %s did not stop within %s", Name, timeout)
		}
		return nil
	})
}

func withService(fn func(*mgr.Service) error) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connect to the service control manager: %w", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(Name)
	if err != nil {
		return fmt.Errorf("open service %s (is it installed?): %w", Name, err)
	}
	defer s.Close()
	return fn(s)
}

// waitState polls until the service reaches want or stops, or timeout
// passes; it returns the last status seen.
func waitState(s *mgr.Service, want svc.State, timeout time.Duration) (svc.Status, error) {
	deadline := time.Now().Add(timeout)
	for {
		st, err := s.Query()
		if err != nil {
			return st, fmt.Errorf("query service %s: %w", Name, err)
		}
		if st.State == want || st.State == svc.Stopped || time.Now().After(deadline) {
			return st, nil
		}
		time.Sleep(200 * time.Millisecond)
	}
}
