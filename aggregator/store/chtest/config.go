package chtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"text/template"

	"github.com/lifeline-telemetry/lifeline/proto/freeport"
)

// serverConfig holds what the generated config.xml needs. It is written once
// per directory, so a restarted server keeps its ports and its data.
type serverConfig struct {
	Dir string
	// Compression is the method for every MergeTree part; empty leaves
	// ClickHouse's default (LZ4).
	Compression     string
	TCPPort         int
	HTTPPort        int
	InterserverPort int
}

// The config is valid for clickhouse-server 18.16 (which needs the cache
// sizes and a users file with quotas) and for current releases, which accept
// the <yandex> root element and the same keys.
var configTemplate = template.Must(template.New("config.xml").Parse(`<?xml version="1.0"?>
<yandex>
    <logger>
        <level>information</level>
        <log>{{.Dir}}/log/server.log</log>
        <errorlog>{{.Dir}}/log/server.err.log</errorlog>
        <size>50M</size>
        <count>1</count>
        <console>0</console>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>{{.TCPPort}}</tcp_port>
    <http_port>{{.HTTPPort}}</http_port>
    <interserver_http_port>{{.InterserverPort}}</interserver_http_port>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <max_connections>512</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <path>{{.Dir}}/data/</path>
    <tmp_path>{{.Dir}}/tmp/</tmp_path>
    <user_files_path>{{.Dir}}/user_files/</user_files_path>
    <format_schema_path>{{.Dir}}/format_schemas/</format_schema_path>
    <users_config>{{.Dir}}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
{{- if .Compression}}
    <compression>
        <case>
            <min_part_size>0</min_part_size>
            <min_part_size_ratio>0</min_part_size_ratio>
            <method>{{.Compression}}</method>
        </case>
    </compression>
{{- end}}
</yandex>
`))

const usersXML = `<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
`

// portsFile records the ports chosen for a directory so that a restart
// listens where the first start did.
const portsFile = "ports"

// loadOrCreateConfig returns the config of dir, writing config.xml,
// users.xml and the port record on first use.
func loadOrCreateConfig(dir string, o Options) (serverConfig, error) {
	cfg := serverConfig{Dir: dir, Compression: o.Compression}
	if b, err := os.ReadFile(filepath.Join(dir, portsFile)); err == nil {
		if _, err := fmt.Sscan(string(b), &cfg.TCPPort, &cfg.HTTPPort, &cfg.InterserverPort); err != nil {
			return cfg, fmt.Errorf("read %s: %w", filepath.Join(dir, portsFile), err)
		}
		return cfg, nil
	} else if !os.IsNotExist(err) {
		return cfg, err
	}
	ports, err := freeport.Loopback(3)
	if err != nil {
		return cfg, err
	}
	cfg.TCPPort, cfg.HTTPPort, cfg.InterserverPort = ports[0], ports[1], ports[2]
	for _, sub := range []string{"data", "tmp", "user_files", "format_schemas", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return cfg, err
		}
	}
	var buf bytes.Buffer
	if err := configTemplate.Execute(&buf, cfg); err != nil {
		return cfg, err
	}
	files := map[string][]byte{
		"config.xml": buf.Bytes(),
		"users.xml":  []byte(usersXML),
		portsFile:    fmt.Appendf(nil, "%d %d %d\n", cfg.TCPPort, cfg.HTTPPort, cfg.InterserverPort),
	}
	// The port record goes last: its presence means the directory is ready.
	for _, name := range []string{"config.xml", "users.xml", portsFile} {
		if err := os.WriteFile(filepath.Join(dir, name), files[name], 0o644); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

func (c serverConfig) addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.TCPPort))
}
