package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/kmsd/kmsd/cluster/devpki"
	"github.com/kmsd/kmsd/proto/adminpb"
)

// devJoinToken asks the node at adminAddr for a join token with the
// development admin certificate, for a dev cluster node that has not joined
// yet (its data folder holds no seal record).
func devJoinToken(ctx context.Context, pki devpki.Paths, adminAddr, dir string) (string, error) {
	if fileExists(filepath.Join(dir, "seal.json")) {
		return "", nil
	}
	c, done, err := devAdmin(pki, adminAddr)
	if err != nil {
		return "", err
	}
	defer done()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := c.CreateJoinToken(ctx, &adminpb.CreateJoinTokenRequest{})
	if err != nil {
		return "", fmt.Errorf("join token from %s: %w", adminAddr, err)
	}
	return resp.GetToken(), nil
}

// devAuthority makes the development KMIP CA the cluster's CA for client
// certificates unless the cluster has one, so that `kmsctl pki issue`
// works against kmsd dev at once.
func devAuthority(ctx context.Context, pki devpki.Paths, adminAddr string) error {
	c, done, err := devAdmin(pki, adminAddr)
	if err != nil {
		return err
	}
	defer done()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	list, err := c.ListCertificates(ctx, &adminpb.ListCertificatesRequest{})
	if err != nil {
		return fmt.Errorf("certificate authority of %s: %w", adminAddr, err)
	}
	if list.GetAuthorityFingerprint() != "" {
		return nil
	}
	certPEM, err := os.ReadFile(pki.CACert)
	if err != nil {
		return err
	}
	keyPEM, err := os.ReadFile(pki.CAKey)
	if err != nil {
		return err
	}
	defer clear(keyPEM)
	if _, err := c.SetCertificateAuthority(ctx, &adminpb.SetCertificateAuthorityRequest{CertificatePem: certPEM, KeyPem: keyPEM}); err != nil {
		return fmt.Errorf("set the certificate authority of %s: %w", adminAddr, err)
	}
	return nil
}

// devAdmin is an admin client of the node at adminAddr with the development
// admin certificate; done closes it.
func devAdmin(pki devpki.Paths, adminAddr string) (c adminpb.AdminClient, done func(), err error) {
	cfg, err := devpki.ClientTLS(pki.NodeCACert, pki.AdminCert, pki.AdminKey)
	if err != nil {
		return nil, nil, err
	}
	conn, err := grpc.NewClient(adminAddr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		return nil, nil, err
	}
	return adminpb.NewAdminClient(conn), func() { _ = conn.Close() }, nil
}
