package main

import (
	"context"
	"fmt"
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
	cfg, err := devpki.ClientTLS(pki.NodeCACert, pki.AdminCert, pki.AdminKey)
	if err != nil {
		return "", err
	}
	conn, err := grpc.NewClient(adminAddr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := adminpb.NewAdminClient(conn).CreateJoinToken(ctx, &adminpb.CreateJoinTokenRequest{})
	if err != nil {
		return "", fmt.Errorf("join token from %s: %w", adminAddr, err)
	}
	return resp.GetToken(), nil
}
