package workflows

import (
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
)

// Search attributes Herald sets on every send so operators can filter in
// the Temporal Web UI. They never hold receivers or content: search
// attributes are not encrypted.
var (
	SearchApp      = temporal.NewSearchAttributeKeyKeyword("HeraldApp")
	SearchChannel  = temporal.NewSearchAttributeKeyKeyword("HeraldChannel")
	SearchProvider = temporal.NewSearchAttributeKeyKeyword("HeraldProvider")
	SearchStatus   = temporal.NewSearchAttributeKeyKeyword("HeraldStatus")
)

// SearchAttributes lists Herald's search attributes with their types, for
// registering them on a namespace.
func SearchAttributes() map[string]enumspb.IndexedValueType {
	return map[string]enumspb.IndexedValueType{
		SearchApp.GetName():      enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchChannel.GetName():  enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchProvider.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchStatus.GetName():   enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	}
}
