package resources

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/store"
)

// applier compares the file with the store and makes the store match.
type applier struct {
	f      *Set
	reg    *providers.Registry
	dryRun bool
	prune  bool
	// prunePools drops pool members a channel does not list; prune
	// implies it.
	prunePools bool
	publicURL  string
	problems   Problems
	// actor and clientIP go into the audit record of every write.
	actor, clientIP string
	// bumped names the objects whose version this run already raised, so
	// a change to their parts (grants, pool, mappings) raises it once.
	bumped map[string]bool
	// versions are the versions of the file's objects as read, by the
	// keys of bumped.
	versions map[string]int64
	result   Result

	// What the store holds for each object of the file, aligned with the
	// file's lists; nil for an object to create.
	apps      []*store.App
	templates []*store.Template
	accounts  []*store.ProviderAccount
	channels  []*store.Channel
	rules     []*store.Rule

	// accountIDs and templateIDs resolve names used in references, for
	// objects in the store; objects created by this run are added as
	// they are created.
	accountIDs  map[string]int64
	templateIDs map[string]int64
	// accountWeights are the weights of referenced accounts, the default
	// weight of a pool member.
	accountWeights map[string]int
	// channelIDs resolves channel names used in grants, like accountIDs.
	channelIDs map[string]int64
	// grantedNow are the names of the channels each app of the file is
	// granted in the store, sorted; nil for a new app.
	grantedNow [][]string

	allAccounts []store.ProviderAccount
	allRules    []store.Rule

	report []string
}

// load reads what the store holds for every object of the file and checks
// references by name; problems are added to a.problems.
func (a *applier) load(ctx context.Context, tx *store.DB) error {
	a.accountIDs = map[string]int64{}
	a.versions = map[string]int64{}
	a.templateIDs = map[string]int64{}
	a.accountWeights = map[string]int{}
	p := &a.problems

	a.apps = make([]*store.App, len(a.f.Apps))
	for i, fa := range a.f.Apps {
		app, err := tx.GetApp(ctx, fa.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return fmt.Errorf("read app %q: %w", fa.ID, err)
		default:
			a.apps[i] = app
			a.versions["app:"+fa.ID] = app.Version
		}
	}

	a.accounts = make([]*store.ProviderAccount, len(a.f.Accounts))
	inFile := map[string]bool{}
	for i, fa := range a.f.Accounts {
		inFile[fa.Name] = true
		a.accountWeights[fa.Name] = intOr(fa.Weight, 1)
		acc, err := tx.FindAccountByName(ctx, fa.Name)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case errors.Is(err, store.ErrConflict):
			p.add(field(at("accounts", i), "name"), "several accounts in the store are named %q; rename all but one first", fa.Name)
		case err != nil:
			return fmt.Errorf("read account %q: %w", fa.Name, err)
		default:
			a.accounts[i] = acc
			a.accountIDs[fa.Name] = acc.ID
			if acc.Kind != fa.Kind && fa.Kind != "" {
				p.add(field(at("accounts", i), "kind"), "account %q is a %s account in the store; the kind of an account cannot change (give the new one another name)", fa.Name, acc.Kind)
			}
		}
	}
	refAccount := func(path, name string) error {
		if name == "" || inFile[name] {
			return nil
		}
		if _, ok := a.accountIDs[name]; ok {
			return nil
		}
		acc, err := tx.FindAccountByName(ctx, name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			p.add(path, "no account named %q in the file or the store", name)
		case errors.Is(err, store.ErrConflict):
			p.add(path, "several accounts in the store are named %q; rename all but one first", name)
		case err != nil:
			return fmt.Errorf("read account %q: %w", name, err)
		default:
			a.accountIDs[name] = acc.ID
			a.accountWeights[name] = acc.Weight
		}
		return nil
	}

	a.templates = make([]*store.Template, len(a.f.Templates))
	tplInFile := map[string]bool{}
	for i, ft := range a.f.Templates {
		tplInFile[ft.Name] = true
		tpl, err := tx.FindTemplateByName(ctx, ft.Name)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case errors.Is(err, store.ErrConflict):
			p.add(field(at("templates", i), "name"), "several templates in the store are named %q; rename all but one first", ft.Name)
		case err != nil:
			return fmt.Errorf("read template %q: %w", ft.Name, err)
		default:
			a.templates[i] = tpl
			a.versions["template:"+ft.Name] = tpl.Version
			a.templateIDs[ft.Name] = tpl.ID
		}
		for j, m := range ft.Mappings {
			if err := refAccount(field(at(field(at("templates", i), "mappings"), j), "account"), m.Account); err != nil {
				return err
			}
		}
	}

	a.channels = make([]*store.Channel, len(a.f.Channels))
	a.channelIDs = map[string]int64{}
	chInFile := map[string]bool{}
	for i, fc := range a.f.Channels {
		path := at("channels", i)
		chInFile[fc.Name] = true
		ch, err := tx.FindChannelByName(ctx, fc.Name)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return fmt.Errorf("read channel %q: %w", fc.Name, err)
		default:
			a.channels[i] = ch
			a.versions["channel:"+fc.Name] = ch.Version
			a.channelIDs[fc.Name] = ch.ID
		}
		if fc.Template != "" && !tplInFile[fc.Template] {
			if _, ok := a.templateIDs[fc.Template]; !ok {
				tpl, err := tx.FindTemplateByName(ctx, fc.Template)
				switch {
				case errors.Is(err, store.ErrNotFound):
					p.add(field(path, "template"), "no template named %q in the file or the store", fc.Template)
				case errors.Is(err, store.ErrConflict):
					p.add(field(path, "template"), "several templates in the store are named %q; rename all but one first", fc.Template)
				case err != nil:
					return fmt.Errorf("read template %q: %w", fc.Template, err)
				default:
					a.templateIDs[fc.Template] = tpl.ID
				}
			}
		}
		for j, m := range fc.Pool {
			if err := refAccount(field(at(field(path, "pool"), j), "account"), m.Account); err != nil {
				return err
			}
		}
	}

	if err := a.loadGrants(ctx, tx, chInFile); err != nil {
		return err
	}

	all, err := tx.ListAllRules(ctx)
	if err != nil {
		return err
	}
	a.allRules = all
	byName := map[string][]store.Rule{}
	for _, r := range all {
		byName[r.Name] = append(byName[r.Name], r)
	}
	a.rules = make([]*store.Rule, len(a.f.Rules))
	for i, fr := range a.f.Rules {
		switch found := byName[fr.Name]; len(found) {
		case 0:
		case 1:
			a.rules[i] = &found[0]
		default:
			p.add(field(at("rules", i), "name"), "several rules in the store are named %q (ids %d and %d); rename all but one first", fr.Name, found[0].ID, found[1].ID)
		}
	}

	if a.allAccounts, err = tx.ListAccounts(ctx); err != nil {
		return err
	}
	return nil
}

// loadGrants checks the channel names apps are granted and reads what
// each app of the file is granted now.
func (a *applier) loadGrants(ctx context.Context, tx *store.DB, chInFile map[string]bool) error {
	a.grantedNow = make([][]string, len(a.f.Apps))
	for i, fa := range a.f.Apps {
		if fa.Grants == nil {
			continue
		}
		for j, name := range *fa.Grants {
			if name == "" || chInFile[name] || a.channelIDs[name] != 0 {
				continue
			}
			ch, err := tx.FindChannelByName(ctx, name)
			switch {
			case errors.Is(err, store.ErrNotFound):
				a.problems.add(at(field(at("apps", i), "grants"), j), "no channel named %q in the file or the store", name)
			case err != nil:
				return fmt.Errorf("read channel %q: %w", name, err)
			default:
				a.channelIDs[name] = ch.ID
			}
		}
		if a.apps[i] == nil {
			continue
		}
		app := fa.ID
		chs, _, err := tx.ListChannels(ctx, store.ChannelFilter{AppID: &app})
		if err != nil {
			return fmt.Errorf("read grants of app %q: %w", fa.ID, err)
		}
		names := make([]string, 0, len(chs))
		for _, ch := range chs {
			names = append(names, ch.Name)
			a.channelIDs[ch.Name] = ch.ID
		}
		sort.Strings(names)
		a.grantedNow[i] = names
	}
	return nil
}

// verb words an action for the report: "create" in a dry run, "created"
// otherwise.
func (a *applier) verb(v string) string {
	if a.dryRun {
		return v
	}
	switch v {
	case "create":
		return "created"
	case "update":
		return "updated"
	case "disable":
		return "disabled"
	case "remove":
		return "removed"
	case "grant":
		return "granted"
	case "revoke":
		return "revoked"
	}
	return v
}

func (a *applier) say(format string, args ...any) {
	a.report = append(a.report, fmt.Sprintf(format, args...))
}

// changed words a list of changed fields for the report.
func changed(fields []string) string {
	if len(fields) == 0 {
		return ""
	}
	return " (" + strings.Join(fields, ", ") + ")"
}
