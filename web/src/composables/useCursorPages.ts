import { ref, type Ref } from 'vue'

export interface CursorPages {
  // pageIndex counts from 0; the page shown is the one its cursor loads.
  pageIndex: Ref<number>
  cursor: () => string | undefined
  first: () => void
  forward: (next: string | undefined) => boolean
  back: () => boolean
}

// Keeps the cursors of the pages seen so far: the list APIs page forward
// by opaque cursors only, and going back reuses the one a page was loaded
// with. forward and back say whether the page changed, so the caller
// loads only then.
export function useCursorPages(): CursorPages {
  const cursors = ref<string[]>([''])
  const pageIndex = ref(0)
  return {
    pageIndex,
    cursor: () => cursors.value[pageIndex.value] || undefined,
    first() {
      cursors.value = ['']
      pageIndex.value = 0
    },
    forward(next) {
      if (!next) return false
      cursors.value = [...cursors.value.slice(0, pageIndex.value + 1), next]
      pageIndex.value++
      return true
    },
    back() {
      if (pageIndex.value === 0) return false
      pageIndex.value--
      return true
    },
  }
}
