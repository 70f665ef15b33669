package console

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"
)

// usersFile is the users file: each park's users.
//
//	parks:
//	  化工园区A:
//	    - name: zhang
//	      password_hash: "$2a$10$…"   # lifeline-aggregator console passwd
type usersFile struct {
	Parks map[string][]struct {
		Name         string `yaml:"name"`
		PasswordHash string `yaml:"password_hash"`
	} `yaml:"parks"`
}

// user is one console user; a user without a hash logs in only through
// the trusted proxy.
type user struct {
	name, park string
	hash       []byte
}

// Users maps user names, unique across parks, to their park and hash.
type Users map[string]user

// LoadUsers reads a users file.
func LoadUsers(path string) (Users, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read console users: %w", err)
	}
	users, err := ParseUsers(data)
	if err != nil {
		return nil, fmt.Errorf("console users %s: %w", path, err)
	}
	return users, nil
}

// ParseUsers parses the text of a users file.
func ParseUsers(data []byte) (Users, error) {
	var f usersFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true) // a misspelt password_hash must not make a user without a password
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	out := Users{}
	var errs []error
	for park, list := range f.Parks {
		if strings.TrimSpace(park) == "" {
			errs = append(errs, errors.New("a park without a name"))
		}
		for _, u := range list {
			switch _, dup := out[u.Name]; {
			case strings.TrimSpace(u.Name) == "":
				errs = append(errs, fmt.Errorf("park %s: a user without a name", park))
				continue
			case dup:
				errs = append(errs, fmt.Errorf("user %s: listed twice", u.Name))
				continue
			}
			if u.PasswordHash != "" {
				if _, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil {
					errs = append(errs, fmt.Errorf("user %s: password_hash is not a bcrypt hash", u.Name))
				}
			}
			out[u.Name] = user{name: u.Name, park: park, hash: []byte(u.PasswordHash)}
		}
	}
	return out, errors.Join(errs...)
}

// dummyHash is compared against when the user is unknown, so a login
// takes as long for a wrong name as for a wrong password.
const dummyHash = "$2a$10$zZZ5ZbuSqusC7/xPCb4RCu2lg9W8/VQt0OfWVbCjXULoaBtcUt3lq"

// check returns the user when name and password match.
func (us Users) check(name, password string) (user, bool) {
	u, ok := us[name]
	if !ok || len(u.hash) == 0 {
		_ = bcrypt.CompareHashAndPassword([]byte(dummyHash), []byte(password))
		return user{}, false
	}
	return u, bcrypt.CompareHashAndPassword(u.hash, []byte(password)) == nil
}

// HashPassword returns the bcrypt hash of password for the users file.
func HashPassword(password string) (string, error) {
	if len(password) < 8 {
		return "", errors.New("password: want at least 8 characters")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}
