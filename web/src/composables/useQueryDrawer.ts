import { ref, watch, type Ref } from 'vue'
import { useRoute, useRouter, type LocationQuery } from 'vue-router'

export interface QueryDrawer {
  // The id of the row open in the drawer, from ?open=.
  openId: Ref<string | null>
  open: (id: string) => void
  close: () => void
  // Reads the filters (through the view's sync) and the open row from the
  // address bar; the view calls it once when mounted.
  sync: () => void
}

// A list page keeps its filters and its open row in the address bar, so
// either can be linked to. On every change of the query, the view's sync
// reads the filters; the list is loaded again only when they changed, not
// when a row was merely opened or closed.
export function useQueryDrawer(routeName: string, view: { sync: () => void; reload: () => unknown }): QueryDrawer {
  const route = useRoute()
  const router = useRouter()
  const openId = ref<string | null>(null)

  function sync() {
    view.sync()
    openId.value = typeof route.query.open === 'string' ? route.query.open : null
  }

  watch(
    () => route.query,
    (q, old) => {
      if (route.name !== routeName) return
      sync()
      if (filtersChanged(q, old)) void view.reload()
    },
  )

  return {
    openId,
    sync,
    open(id: string) {
      void router.replace({ query: { ...route.query, open: id } })
    },
    close() {
      const q = { ...route.query }
      delete q.open
      void router.replace({ query: q })
    },
  }
}

// Whether two queries differ in anything but the open row.
export function filtersChanged(q: LocationQuery, old: LocationQuery | undefined): boolean {
  if (!old) return true
  const { open: _o, ...rest } = q
  const { open: _p, ...oldRest } = old
  return JSON.stringify(rest) !== JSON.stringify(oldRest)
}
