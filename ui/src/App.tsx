/** Sign-in, then the pages (hash routes): #/, #/vms, #/vms/NAME/TAB, #/images, #/volumes, #/backups, #/networks, #/profiles, #/nodes, #/import. */
import { useEffect, useState } from 'react';
import { ApiError, setUnauthenticatedHandler, tokenStore } from './lib/api';
import { EventsProvider } from './lib/events';
import { useRoute } from './lib/router';
import { Layout } from './components/Layout';
import { Login } from './components/Login';
import { Dashboard } from './pages/Dashboard';
import { VmList } from './pages/VmList';
import { VmDetail } from './pages/VmDetail';
import { Images } from './pages/Images';
import { Volumes } from './pages/Volumes';
import { BackupRepos } from './pages/BackupRepos';
import { Networks } from './pages/Networks';
import { Profiles } from './pages/Profiles';
import { Nodes } from './pages/Nodes';
import { ImportVm } from './pages/ImportVm';

export function App() {
  const [signedIn, setSignedIn] = useState(() => tokenStore.get() !== null);
  const [reason, setReason] = useState<ApiError>();
  const route = useRoute();

  useEffect(() => {
    setUnauthenticatedHandler((e) => {
      tokenStore.clear();
      setReason(e);
      setSignedIn(false);
    });
  }, []);

  if (!signedIn) {
    return <Login reason={reason} onSignedIn={() => { setReason(undefined); setSignedIn(true); }} />;
  }
  const signOut = () => {
    tokenStore.clear();
    setSignedIn(false);
  };
  const [section = '', name, tab] = route;
  return (
    <EventsProvider>
      <Layout section={section} onSignOut={signOut}>
        {section === '' && <Dashboard />}
        {section === 'vms' && (name ? <VmDetail key={name} name={name} tab={tab ?? 'overview'} /> : <VmList />)}
        {section === 'images' && <Images />}
        {section === 'volumes' && <Volumes />}
        {section === 'backups' && <BackupRepos />}
        {section === 'networks' && <Networks />}
        {section === 'profiles' && <Profiles />}
        {section === 'nodes' && <Nodes />}
        {section === 'import' && <ImportVm />}
        {!['', 'vms', 'images', 'volumes', 'backups', 'networks', 'profiles', 'nodes', 'import'].includes(section) && <p>No page here. <a href="#/">Dashboard</a></p>}
      </Layout>
    </EventsProvider>
  );
}
