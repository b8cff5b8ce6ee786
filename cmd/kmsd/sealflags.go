package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/kmsd/kmsd/cluster/seal"
)

// Environment variables that may carry unseal secrets, so that they need not
// be on a command line.
const (
	envUnsealPassphrase = "KMSD_UNSEAL_PASSPHRASE"
	envPKCS11PIN        = "KMSD_PKCS11_PIN"
)

// sealFlags choose how a new cluster's root key is protected (kmsd init, or
// the first kmsd serve --bootstrap; a joining node uses them for its own
// record) and carry the secrets that unseal a node at start.
type sealFlags struct {
	method                 string
	shares, threshold      int
	passphraseFile         string
	pkcs11Module           string
	pkcs11Token, pkcs11Key string
	pkcs11PINFile          string
}

func (s *sealFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.method, "seal", "file", "how the root key is protected: file (a key file in the data folder), passphrase, shamir or pkcs11")
	fs.IntVar(&s.shares, "key-shares", 5, "shamir: shares to make (kmsd init)")
	fs.IntVar(&s.threshold, "key-threshold", 3, "shamir: shares needed to unseal (kmsd init)")
	fs.StringVar(&s.passphraseFile, "unseal-passphrase-file", "", "passphrase seal: file holding the passphrase (or env "+envUnsealPassphrase+"; else asked on a terminal, else the node starts sealed)")
	fs.StringVar(&s.pkcs11Module, "pkcs11-module", "", "pkcs11 seal: path of the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so")
	fs.StringVar(&s.pkcs11Token, "pkcs11-token", "", "pkcs11 seal: label of the token")
	fs.StringVar(&s.pkcs11Key, "pkcs11-key-label", "kmsd-unseal", "pkcs11 seal: label of the AES key that wraps the root key (made if absent)")
	fs.StringVar(&s.pkcs11PINFile, "pkcs11-pin-file", "", "pkcs11 seal: file holding the token's user PIN (or env "+envPKCS11PIN+"; else the node starts sealed)")
}

// options returns the init options; secrets come from files or the
// environment, or, for init on a terminal, a prompt.
func (s *sealFlags) options(prompt bool) (seal.InitOptions, error) {
	opts := seal.InitOptions{Method: seal.Method(s.method), Shares: s.shares, Threshold: s.threshold}
	switch opts.Method {
	case seal.MethodFile, seal.MethodShamir:
	case seal.MethodPassphrase:
		pass, err := s.passphrase(prompt, true)
		if err != nil {
			return opts, err
		}
		opts.Passphrase = pass
	case seal.MethodPKCS11:
		if s.pkcs11Module == "" || s.pkcs11Token == "" {
			return opts, errors.New("the pkcs11 seal needs --pkcs11-module and --pkcs11-token")
		}
		pin, err := s.pin()
		if err != nil {
			return opts, err
		}
		opts.PKCS11 = seal.PKCS11Options{Module: s.pkcs11Module, TokenLabel: s.pkcs11Token, KeyLabel: s.pkcs11Key, PIN: pin}
	default:
		return opts, fmt.Errorf("--seal %q: want file, passphrase, shamir or pkcs11", s.method)
	}
	return opts, nil
}

// passphrase reads the passphrase from its file, the environment, or the
// terminal; confirm asks twice. It is nil when none is given and there is
// no terminal to ask.
func (s *sealFlags) passphrase(prompt, confirm bool) ([]byte, error) {
	if s.passphraseFile != "" {
		return readSecretFile(s.passphraseFile)
	}
	if v := os.Getenv(envUnsealPassphrase); v != "" {
		return []byte(v), nil
	}
	if !prompt || !term.IsTerminal(int(os.Stdin.Fd())) {
		return nil, nil
	}
	pass, err := askSecret("Unseal passphrase: ")
	if err != nil || !confirm {
		return pass, err
	}
	again, err := askSecret("Again: ")
	if err != nil {
		return nil, err
	}
	defer clear(again)
	if string(again) != string(pass) {
		clear(pass)
		return nil, errors.New("the two passphrases differ")
	}
	return pass, nil
}

func (s *sealFlags) pin() (string, error) {
	if s.pkcs11PINFile != "" {
		b, err := readSecretFile(s.pkcs11PINFile)
		return string(b), err
	}
	return os.Getenv(envPKCS11PIN), nil
}

func askSecret(prompt string) ([]byte, error) {
	fmt.Fprint(os.Stderr, prompt)
	b, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(os.Stderr)
	return b, err
}

// readSecretFile reads a secret from a file that only its owner may read.
func readSecretFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s has mode %v: a secret file must not be readable by group or others (chmod 600 %s)", path, st.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return []byte(strings.TrimRight(string(b), "\r\n")), nil
}

// unsealInputs fills the secrets that unseal an existing node at start:
// the passphrase (asked on a terminal when the record is a passphrase one
// and none is given) and the PIN.
func (s *sealFlags) unsealInputs(cfg *config) error {
	rec, err := seal.ReadRecord(cfg.DataDir)
	if err != nil {
		return nil
	}
	switch rec.Method {
	case seal.MethodPassphrase:
		cfg.UnsealPassphrase, err = s.passphrase(true, false)
	case seal.MethodPKCS11:
		cfg.PKCS11PIN, err = s.pin()
	}
	return err
}
