package seal

import "errors"

// Errors. Each text names what an operator can do about it; none ever carries
// key bytes or share values (details added with %w name lengths, versions,
// paths and methods only).
var (
	ErrSealed          = errors.New("seal: the barrier is sealed; unseal this node first")
	ErrAlreadyUnsealed = errors.New("seal: the barrier is already unsealed; seal it first to unseal with another key")

	ErrSealedData        = errors.New("seal: sealed data does not open: it is corrupt, truncated, or bound to another object, owner or cluster")
	ErrUnknownKeyVersion = errors.New("seal: the blob names a data key version the keyring does not hold (retired, or not replicated here yet); rewrap objects before retiring a version")
	ErrNoDataKey         = errors.New("seal: the keyring holds no data key yet; create version 1 with NewDataKey and store it first")
	ErrBadDataKey        = errors.New("seal: a keyring entry does not open under this cluster's root key; the keyring belongs to another cluster or is corrupt")
	ErrBinding           = errors.New("seal: an object binding needs a non-empty object id")

	ErrNoRecord           = errors.New("seal: the data folder holds no seal.json; initialize a new cluster or join one first")
	ErrAlreadyInitialized = errors.New("seal: the data folder already holds a seal record (seal.json); unseal it, or use an empty data folder")
	ErrBadRecord          = errors.New("seal: seal.json is malformed; restore it from a backup of this node's data folder")
	ErrWrongMethod        = errors.New("seal: seal.json is protected by another unseal method; unseal it with the method it names")
	ErrWrongCluster       = errors.New("seal: the seal record belongs to another cluster; take the record from a member of this cluster")
	ErrBadOptions         = errors.New("seal: invalid init options")
	ErrUseAdoptRecord     = errors.New("seal: a shamir node shares the cluster's seal record; copy a member's Record() to this node with AdoptRecord")
	ErrNodeLocalRecord    = errors.New("seal: a file-method record is only good with its own node's unseal.key; protect this node with Protect instead")

	ErrKeyFileMode     = errors.New("seal: unseal.key is readable by group or others; run chmod 600 on it")
	ErrStaleUnsealKey  = errors.New("seal: unseal.key exists without a seal.json it protects; move it away and initialize again")
	ErrWrongUnsealKey  = errors.New("seal: unseal.key does not open the root key in seal.json; restore the unseal.key made together with this seal.json")
	ErrWrongPassphrase = errors.New("seal: wrong passphrase; nothing changed, try again")
	ErrWeakPassphrase  = errors.New("seal: the passphrase is shorter than 8 bytes; choose a longer one")

	ErrBadShare       = errors.New("seal: the share is malformed, mistyped, or from another seal record; it was not counted")
	ErrDuplicateShare = errors.New("seal: this share was already submitted; submit a different one")
	ErrWrongShares    = errors.New("seal: the shares passed their checks but do not open the root key; seal.json may be damaged; progress was reset")

	ErrWrongPIN = errors.New("seal: the HSM refused the PIN; check the token's user PIN")
	ErrHSM      = errors.New("seal: the HSM could not wrap or unwrap the root key; check the module path, token, key label and the HSM's log")
	ErrNoCgo    = errors.New("seal: this kmsd was built without cgo; the pkcs11 seal needs a cgo build")

	ErrJoinKeyUsed = errors.New("seal: this join key was already used; generate a new one with NewJoinKey and ask again")
	ErrBadJoin     = errors.New("seal: the wrapped root key does not open with this join key and info; it was made for another join, so start the join again")
)
