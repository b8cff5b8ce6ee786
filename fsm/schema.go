package fsm

import memdb "github.com/hashicorp/go-memdb"

const (
	tableObjects = "objects"
)

// Index names of the objects table.
const (
	indexID    = "id"
	indexOwner = "owner"
	indexType  = "type"
	indexState = "state"
	indexName  = "name"
	indexGroup = "group"
	indexLink  = "link"
)

func schema() *memdb.DBSchema {
	return &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
		tableObjects: {
			Name: tableObjects,
			Indexes: map[string]*memdb.IndexSchema{
				indexID:    {Name: indexID, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
				indexOwner: {Name: indexOwner, Indexer: &memdb.StringFieldIndex{Field: "Owner"}},
				indexType:  {Name: indexType, Indexer: &memdb.UintFieldIndex{Field: "Type"}},
				indexState: {Name: indexState, Indexer: &memdb.UintFieldIndex{Field: "State"}},
				indexName:  {Name: indexName, AllowMissing: true, Indexer: &memdb.StringSliceFieldIndex{Field: "Names"}},
				indexGroup: {Name: indexGroup, AllowMissing: true, Indexer: &memdb.StringSliceFieldIndex{Field: "Groups"}},
				indexLink:  {Name: indexLink, AllowMissing: true, Indexer: &memdb.StringSliceFieldIndex{Field: "Links"}},
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
		tableMeta: {
			Name: tableMeta,
			Indexes: map[string]*memdb.IndexSchema{
				indexID: {Name: indexID, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Key"}},
			},
		},
	}}
}
