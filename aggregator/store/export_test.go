package store

// SchemaObjects returns the names of the tables and views Migrate creates.
func SchemaObjects(caps Capabilities) []string {
	var names []string
	for _, stmt := range ddl(caps) {
		names = append(names, objectName(stmt))
	}
	return names
}
