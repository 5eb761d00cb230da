/** Images: built-in and imported; refreshed by image events. */
import { ErrorBox } from '../components/ErrorBox';
import { useEventListener } from '../lib/events';
import { bytes, time } from '../lib/format';
import { useApi } from '../lib/hooks';
import type { Image } from '../lib/types';

export function Images() {
  const images = useApi<Image[]>('/v1/images');
  useEventListener((e) => {
    if (e.type.startsWith('image.')) images.reload();
  });
  return (
    <section>
      <h1>Images</h1>
      <p className="muted small">Import with <code>hangar image import NAME --url URL --sha256 HEX</code> (or <code>--file</code>).</p>
      <ErrorBox error={images.error} />
      <table>
        <thead><tr><th>name</th><th>status</th><th>kind</th><th>origin</th><th>size</th><th>built / imported</th><th>description</th></tr></thead>
        <tbody>
          {(images.data ?? []).map((i) => (
            <tr key={i.name} data-image={i.name}>
              <td>{i.name}</td>
              <td>{i.status}{i.error && <div className="error small">{i.error}</div>}</td>
              <td>{i.kind}{i.kernelVersion && <span className="muted small"> {i.kernelVersion}</span>}</td>
              <td>{i.origin}</td>
              <td>{i.disk ? bytes(i.disk.virtualSizeBytes) : '–'}</td>
              <td>{time(i.builtAt ?? i.importedAt)}</td>
              <td>{i.description}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
