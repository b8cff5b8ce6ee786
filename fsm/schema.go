package fsm

import memdb "github.com/hashicorp/go-memdb"

const (
	tableObjects = "objects"
)

// Index names; the secondary indexes of the objects table are described in
// index.go.
const (
	indexID = "id"
)

func schema() *memdb.DBSchema {
	return &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
		tableObjects: {
			Name: tableObjects,
			Indexes: map[string]*memdb.IndexSchema{
				indexID: {Name: indexID, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
				// Their keys end with the object's id: unique.
				indexClass: {Name: indexClass, Unique: true, Indexer: classIndexer{}},
				indexAttr:  {Name: indexAttr, Unique: true, AllowMissing: true, Indexer: attrIndexer{}},
			},
		},
		tableTokens: {
			Name: tableTokens,
			Indexes: map[string]*memdb.IndexSchema{
				indexID: {Name: indexID, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
			},
		},
		tableDataKeys: {
			Name: tableDataKeys,
			Indexes: map[string]*memdb.IndexSchema{
				indexID: {Name: indexID, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
			},
		},
		tablePolicy: {
			Name: tablePolicy,
			Indexes: map[string]*memdb.IndexSchema{
				indexID: {Name: indexID, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Name"}},
			},
		},
		tableAuthority: {
			Name: tableAuthority,
			Indexes: map[string]*memdb.IndexSchema{
				indexID: {Name: indexID, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Key"}},
			},
		},
		tableIssued: {
			Name: tableIssued,
			Indexes: map[string]*memdb.IndexSchema{
				indexID: {Name: indexID, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Serial"}},
			},
		},
		tableRevoked: {
			Name: tableRevoked,
			Indexes: map[string]*memdb.IndexSchema{
				indexID: {Name: indexID, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
			},
		},
		tableUsage: {
			Name: tableUsage,
			Indexes: map[string]*memdb.IndexSchema{
				indexID: {Name: indexID, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Tenant"}},
			},
		},
		tableMeta: {
			Name: tableMeta,
			Indexes: map[string]*memdb.IndexSchema{
				indexID: {Name: indexID, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Key"}},
			},
		},
	}}
}
