package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// maxSecret caps what hash-key and hash-password read.
const maxSecret = 4096

// readSecret reads a key or password from in: its first line, without the
// line break (so `echo key | rgate hash-key` hashes "key").
func readSecret(in io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(in, maxSecret)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("reading stdin: %w", err)
	}
	s := strings.TrimRight(line, "\r\n")
	if s == "" {
		return "", fmt.Errorf("nothing on stdin: pipe the secret in, e.g. printf %%s \"$KEY\" | rgate hash-key")
	}
	return s, nil
}

// hashKey prints the hex SHA-256 of the API key on stdin, for a
// consumer's api_keys_sha256.
func hashKey(in io.Reader, stdout, stderr io.Writer) int {
	key, err := readSecret(in)
	if err != nil {
		fmt.Fprintf(stderr, "rgate hash-key: %v\n", err)
		return 2
	}
	sum := sha256.Sum256([]byte(key))
	fmt.Fprintln(stdout, hex.EncodeToString(sum[:]))
	return 0
}

// hashPassword prints a bcrypt hash of the password on stdin, for a
// consumer's basic_auth.password_bcrypt.
func hashPassword(in io.Reader, stdout, stderr io.Writer) int {
	pass, err := readSecret(in)
	if err != nil {
		fmt.Fprintf(stderr, "rgate hash-password: %v\n", err)
		return 2
	}
	if len(pass) > 72 {
		fmt.Fprintln(stderr, "rgate hash-password: bcrypt takes at most 72 bytes")
		return 2
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.DefaultCost)
	if err != nil {
		fmt.Fprintf(stderr, "rgate hash-password: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, string(h))
	return 0
}
