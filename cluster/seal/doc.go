// Package seal is the barrier: the only code in kmsd that ever holds a root
// key or a data key.
//
// Keys form a hierarchy:
//
//	unseal key (file, passphrase, Shamir shares, or an HSM key)
//	  -> root key (32 random bytes, one per cluster, in seal.json wrapped under the unseal key)
//	    -> keyring of data keys (32 bytes each, versioned, replicated by the state
//	       machine sealed under the root key; read through KeySource)
//	      -> object blobs (AES-256-GCM; each names its data-key version and is
//	         bound to object id, owner and cluster id)
//
// What it owns:
//
//   - Barrier: SealObject and OpenObject for key material, NewDataKey and
//     SealDataKey for the keyring, SnapshotMAC for snapshots, AuditMAC and
//     AuditKeyVersion for the audit log's chain, Seal to forget every key. Callers (kmip, the state machine) declare the small
//     interfaces they need and never see a key.
//   - Unsealing, one typed entry point per method, each reading
//     <dataDir>/seal.json:
//     UnsealFile(dataDir); UnsealPassphrase(dataDir, pass);
//     SubmitShare(rec, share) until it returns 0 remaining (ResetShares to
//     start over); UnsealPKCS11(dataDir, pin).
//   - Creating a cluster: Init(dataDir, opts) makes the cluster id and root
//     key and writes seal.json under opts.Method (returning the Shamir shares,
//     once).
//   - Joining: the joiner's NewJoinKey, a member's WrapRootFor(public, info),
//     the joiner's UnsealFromJoin(jk, wrapped, info); then Protect(dataDir,
//     opts) writes the joiner's own seal.json, or, for shamir, AdoptRecord
//     stores a member's Record() so the same shares unseal every node.
//   - ReadRecord for status displays (method, cluster id, threshold).
//   - Root rotation: PrepareRootRotation (the proposer), FollowRoot (every
//     node, as the command applies), RewriteRecord (seal.json for the new
//     root key, same unseal method); Reseal for rewrap; CheckDataKey.
//
// What it does not own: the keyring's storage, replication, rotation policy
// and rewrap scheduling (the state machine and cluster packages), where the
// passphrase, PIN or shares come from (cmd/ and admin/), and any logging:
// nothing here logs, and no error text carries key bytes or share values.
//
// Unseal methods are rows of one table (methods in method.go), each a file
// of its own implementing the method interface; see DESIGN.md for the blob,
// record and AAD formats and the key derivations.
package seal
