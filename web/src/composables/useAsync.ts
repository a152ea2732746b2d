import { ref, shallowRef, type Ref, type ShallowRef } from 'vue'
import { errorMessage } from '../api/client'

export interface AsyncState<T> {
  data: ShallowRef<T | undefined>
  loading: Ref<boolean>
  error: Ref<string>
  run: () => Promise<void>
}

// Runs a load, keeping the loading and error state a page shows. A later run
// wins over an earlier one still in flight.
export function useAsync<T>(load: () => Promise<T>): AsyncState<T> {
  const data = shallowRef<T>()
  const loading = ref(false)
  const error = ref('')
  let generation = 0
  async function run(): Promise<void> {
    const mine = ++generation
    loading.value = true
    error.value = ''
    try {
      const v = await load()
      if (mine === generation) data.value = v
    } catch (err) {
      if (mine === generation) error.value = errorMessage(err)
    } finally {
      if (mine === generation) loading.value = false
    }
  }
  return { data, loading, error, run }
}
