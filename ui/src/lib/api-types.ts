/**
 * GENERATED FILE, do not edit: the API's types from docs/openapi.json, by openapi-typescript
 * (ui/scripts/api-types.mjs). After an API change: `npm run gen:ui-types` at the root.
 * `npm test` fails while this file is stale.
 */

export interface paths {
    "/v1/host": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Host capacity, accelerator and VM counts */
        get: operations["getHost"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vms": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List VMs (with label=k=v: only those with every such label) */
        get: operations["listVms"];
        put?: never;
        /** Create a VM (and start it with start=true) */
        post: operations["createVm"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vms/{name}/clone": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Clone a stopped or running VM: new MACs, SMBIOS UUID, cloud-init instance id and hostname; linked (overlays of frozen bases) or a full copy */
        post: operations["cloneVm"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vms/{name}/rename": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Rename a stopped VM (its volumes keep their names and follow it) */
        post: operations["renameVm"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vms/{name}/image": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Make an image (kind disk) of a VM's root disk: a stopped VM as it is, a running one at one instant (paused for milliseconds); an operation */
        post: operations["createImageFromVm"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vms/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Show a VM */
        get: operations["getVm"];
        put?: never;
        post?: never;
        /** Delete a VM (refused while it runs unless force=true) */
        delete: operations["deleteVm"];
        options?: never;
        head?: never;
        /** Change resources: live where the running guest allows, otherwise stored for the next start (each change says which) */
        patch: operations["updateVm"];
        trace?: never;
    };
    "/v1/vms/{name}/start": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Start a VM; returns when it runs. A saved VM is restored where it was (fresh=true discards the save and boots); bootOnce boots this start from a device kind first */
        post: operations["startVm"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vms/{name}/stop": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Stop a VM: ACPI powerdown, forced after timeoutSeconds; or at once with force */
        post: operations["stopVm"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vms/{name}/restart": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Restart a VM: stop (as /stop) then start */
        post: operations["restartVm"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vms/{name}/exec": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Run a command in the guest through qemu-guest-agent; returns its output and exit code */
        post: operations["execInVm"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vms/{name}/guest": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** What the guest agent reports: OS, interfaces, IP addresses */
        get: operations["getVmGuestInfo"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vms/{name}/pause": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Pause a running VM (its vCPUs and clock stop) */
        post: operations["pauseVm"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vms/{name}/resume": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Resume a paused VM */
        post: operations["resumeVm"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vms/{name}/logs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The guest's serial console log, or QEMU's own log */
        get: operations["getVmLogs"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/pools": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List storage pools with capacity and use */
        get: operations["listPools"];
        put?: never;
        /** Create a directory pool */
        post: operations["createPool"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/pools/{pool}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Show a pool */
        get: operations["getPool"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/volumes": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List volumes */
        get: operations["listVolumes"];
        put?: never;
        /** Create a blank volume */
        post: operations["createVolume"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/volumes/{pool}/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Show a volume */
        get: operations["getVolume"];
        put?: never;
        post?: never;
        /** Delete a volume (refused while attached) */
        delete: operations["deleteVolume"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/volumes/{pool}/{name}/resize": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Grow a volume (live, with block_resize, if a running guest uses it) */
        post: operations["resizeVolume"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/volumes/{pool}/{name}/clone": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Copy a volume (an operation with progress) */
        post: operations["cloneVolume"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vms/{name}/disks": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Attach a volume (hot-plugged into a running guest) */
        post: operations["attachDisk"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vms/{name}/disks/{volume}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Detach a volume (from a running guest: waits until the guest lets go) */
        delete: operations["detachDisk"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/operations": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List operations */
        get: operations["listOperations"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/operations/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Show an operation (with ?wait=N, wait up to N s for it to end) */
        get: operations["getOperation"];
        put?: never;
        post?: never;
        /** Cancel a running operation */
        delete: operations["cancelOperation"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vms/{name}/snapshots": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A VM's snapshots (a tree: each names its parent) */
        get: operations["listSnapshots"];
        put?: never;
        /** Take a snapshot: disk-only answers 201 with the snapshot; with memory, 202 with an operation */
        post: operations["createSnapshot"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vms/{name}/snapshots/{snapshot}/revert": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Revert to a snapshot (a memory snapshot resumes where it was; a disk-only one restarts a running guest) */
        post: operations["revertSnapshot"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vms/{name}/snapshots/{snapshot}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Delete a snapshot (its children and the current state keep every byte) */
        delete: operations["deleteSnapshot"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/backup-repos": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Backup repositories */
        get: operations["listBackupRepos"];
        put?: never;
        /** Make a backup repository in an empty or new directory (optionally encrypted with a key file) */
        post: operations["createBackupRepo"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/backup-repos/{repo}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Forget a backup repository (its directory and backups stay) */
        delete: operations["deleteBackupRepo"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/backups": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Backups, oldest first (of one VM, of one repository) */
        get: operations["listBackups"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vms/{name}/backups": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Back a VM up (running or stopped): full the first time, then incremental; 202 with an operation whose result is the backup */
        post: operations["createBackup"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/backups/{id}/restore": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Restore a backup to a new VM (stopped); 202 with an operation whose result is the VM */
        post: operations["restoreBackup"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/backups/prune": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Delete the backups a retention policy does not keep (Proxmox Backup Server's rule, per VM); dryRun only lists them */
        post: operations["pruneBackups"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/backup-repos/{repo}/verify": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Re-read and check every chunk; 202 with an operation whose result names the backups that use a damaged chunk */
        post: operations["verifyBackupRepo"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/backup-repos/{repo}/gc": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Remove the chunks no backup uses (refused while a backup writes to the repository) */
        post: operations["collectBackupRepoGarbage"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/backup-schedules": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Backup schedules, each with its next run and the outcome of its last one */
        get: operations["listBackupSchedules"];
        put?: never;
        /** Back a VM up on a schedule run by the daemon (one per VM; times in UTC), pruning its backups with a retention after each run */
        post: operations["setBackupSchedule"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/backup-schedules/{vm}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Delete a VM's backup schedule (its backups stay; a run under way ends first) */
        delete: operations["deleteBackupSchedule"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vms/{name}/export": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Write a VM (running or stopped) to one archive on the daemon's host: configuration, disks at one instant, NVRAM, TPM; 202 with an operation */
        post: operations["exportVm"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vms/import": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Make a VM (stopped) from an archive `vm export` wrote, on this or another host; 202 with an operation whose result is the VM */
        post: operations["importVm"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vms/{name}/media/insert": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Insert an ISO image into a CD-ROM drive: live in a running guest (the tray opens and closes), else for the next start */
        post: operations["insertMedia"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vms/{name}/media/eject": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Eject a CD-ROM drive's medium (the VM's only drive unless drive is given): live in a running guest, else for the next start */
        post: operations["ejectMedia"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vms/{name}/save": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Save a running or paused VM's memory and device state to a file and stop QEMU (state `saved`); 202 with an operation. `start` restores it */
        post: operations["saveVm"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vms/{name}/discard-save": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Discard the save of a saved VM: it becomes stopped and boots afresh on its next start */
        post: operations["discardSavedState"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/peers": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Peers: other Hangar daemons VMs can be migrated to (tokens are never shown) */
        get: operations["listPeers"];
        put?: never;
        /** Add a peer: its TLS address, an admin token of it, and its certificate's fingerprint (pinned; read at first contact if not given). The peer is contacted before anything is stored */
        post: operations["addPeer"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/peers/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One peer; with check=true, contact it and show its host name and version */
        get: operations["getPeer"];
        put?: never;
        post?: never;
        /** Remove a peer */
        delete: operations["removePeer"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vms/{name}/migrate": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Live-migrate a running or paused VM to a peer (`to`), or in a cluster move it to another node (`node`: live when it runs, cold when stopped); 202 with an operation (progress: percent, bytes, remaining, dirty rate, expected downtime; DELETE the operation to cancel). Any failure leaves the guest running here */
        post: operations["migrateVm"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/migrations/incoming": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Daemon to daemon: prepare this host for a guest arriving from the calling daemon (QEMU with -incoming, NBD exports for copied disks). Answers where QEMU listens */
        post: operations["prepareIncomingMigration"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/migrations/incoming/{id}/finish": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Daemon to daemon: the stream completed; run the guest here. Answers the VM and how long resuming it took here */
        post: operations["finishIncomingMigration"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/migrations/incoming/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Daemon to daemon: the source gave up; end the arriving QEMU and remove what was made for it */
        delete: operations["abortIncomingMigration"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vms/{name}/nvram/reset": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Reset a stopped UEFI VM's NVRAM (its EFI variables: boot entries, Secure Boot state) to a fresh copy of its firmware's vars template */
        post: operations["resetNvram"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vms/{name}/nics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Add a NIC on a managed network (hot-plugged into a running guest) */
        post: operations["attachNic"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vms/{name}/nics/{nic}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Remove a NIC (from a running guest: waits until the guest lets go) */
        delete: operations["detachNic"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/networks": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List managed networks with their leases */
        get: operations["listNetworks"];
        put?: never;
        /** Create a managed network: a bridge, dnsmasq (DHCP, DNS) and, as asked, NAT or isolation rules */
        post: operations["createNetwork"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/networks/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Show a network, its DHCP leases and VMs */
        get: operations["getNetwork"];
        put?: never;
        post?: never;
        /** Delete a network (refused while VMs use it); removes everything it added to the host */
        delete: operations["deleteNetwork"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/projects": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List projects with quotas and usage */
        get: operations["listProjects"];
        put?: never;
        /** Create a project with quotas */
        post: operations["createProject"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/projects/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Show a project */
        get: operations["getProject"];
        put?: never;
        post?: never;
        /** Delete an empty project */
        delete: operations["deleteProject"];
        options?: never;
        head?: never;
        /** Change quotas (refused below current use) */
        patch: operations["updateProject"];
        trace?: never;
    };
    "/v1/instance-types": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List the built-in instance types (besides cN-mM) */
        get: operations["listInstanceTypes"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/profiles": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List profiles and the VMs that use them */
        get: operations["listProfiles"];
        put?: never;
        /** Create a profile */
        post: operations["createProfile"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/profiles/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Show a profile and the VMs it affects */
        get: operations["getProfile"];
        put?: never;
        post?: never;
        /** Delete a profile (refused while VMs use it unless force=true, which detaches it) */
        delete: operations["deleteProfile"];
        options?: never;
        head?: never;
        /** Change a profile and re-apply it to its VMs (each says what changed live and what at its next start) */
        patch: operations["updateProfile"];
        trace?: never;
    };
    "/v1/templates": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List warm templates and the VMs cloned from each */
        get: operations["listTemplates"];
        put?: never;
        /** Make a warm template of a running VM with file-backed memory (paused while its device state, memory file and disks are copied, then it goes on) */
        post: operations["createTemplate"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/templates/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Show a warm template */
        get: operations["getTemplate"];
        put?: never;
        post?: never;
        /** Delete a warm template (TEMPLATE_IN_USE while clones' disks are linked to it) */
        delete: operations["deleteTemplate"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/templates/{name}/clones": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Warm clones (vm create --from-template): each maps the template's memory copy-on-write, loads its state, takes its own identity through the guest agent (MAC, hostname, machine-id, SSH host keys, RNG reseed, clock), then its links come up; answers once all are ready */
        post: operations["cloneFromTemplate"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/tokens": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List API tokens (never their secrets) */
        get: operations["listTokens"];
        put?: never;
        /** Create an API token; the reply holds the secret, shown only this once */
        post: operations["createToken"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/tokens/{token}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Delete (revoke) a token, by name or id: it stops working at once */
        delete: operations["revokeToken"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vms/{name}/console-tokens": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** A console token: opens this VM's console WebSocket once, within 60 s (what browsers use over TCP, where they cannot send a bearer header) */
        post: operations["createConsoleToken"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/cluster": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** This node's view of the cluster: single host, or node of a cluster on etcd */
        get: operations["getCluster"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/cluster/init": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Make this host the first node of a new cluster on etcd: its VMs and records are copied there (writes wait meanwhile), then it runs on etcd. Guests keep running */
        post: operations["initCluster"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/cluster/join-tokens": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** A single-use join token (valid an hour) for a new node of this name (`hangar cluster add NODE`) */
        post: operations["createJoinToken"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/cluster/join": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Join the cluster a join token names (this host must have no VMs); the token is spent */
        post: operations["joinCluster"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/cluster/placement": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Where a VM of this size would be placed, and why each node was chosen or ruled out (nothing is reserved): `vm create --dry-run --explain` */
        post: operations["explainPlacement"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/nodes/{node}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Remove an offline node (?force=true even when it holds VMs: they stay listed, stranded) */
        delete: operations["removeNode"];
        options?: never;
        head?: never;
        /** Set or remove a node's labels (null removes one) */
        patch: operations["updateNode"];
        trace?: never;
    };
    "/v1/nodes": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The nodes of the cluster, with state, capacity, allocation, labels and lease age */
        get: operations["listNodes"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/groups": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The placement groups, with their members and the nodes they are on */
        get: operations["listGroups"];
        put?: never;
        /** Create a placement group: affinity or anti-affinity, hard (a filter) or soft (a weight); enforced in a cluster */
        post: operations["createGroup"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/groups/{group}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Show a placement group and its members */
        get: operations["getGroup"];
        put?: never;
        post?: never;
        /** Delete a placement group (refused while it has members; ?force=true: they leave it, no VM moves) */
        delete: operations["deleteGroup"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/groups/{group}/members": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** A VM joins the group (leaving any other); in a cluster a join that breaks a hard rule where the VMs are now is refused (PLACEMENT_IMPOSSIBLE) */
        post: operations["addGroupMember"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/groups/{group}/members/{vm}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** A VM leaves the group */
        delete: operations["removeGroupMember"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/hooks": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The webhooks, each with its last delivery (secrets are never shown) */
        get: operations["listHooks"];
        put?: never;
        /** Create a webhook: matching events are POSTed as JSON, in order, signed with the secret, retried with back-off */
        post: operations["createHook"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/hooks/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Show a webhook with its last deliveries and their outcome */
        get: operations["getHook"];
        put?: never;
        post?: never;
        /** Delete a webhook (deliveries not yet made are dropped) */
        delete: operations["deleteHook"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/host/shutdown-guests": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** The host goes down: every running or paused guest is powered off through ACPI (forced after the timeout) or saved (restored at the daemon's next start; a guest whose save fails is shut down instead); 202 with an operation whose result lists each guest's outcome */
        post: operations["shutdownGuests"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/host/start-guests": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Restores the guests shutdown-guests saved and starts the autostart VMs that are not running (the daemon does this at its start; this does what is still pending); 202 with an operation whose result lists what it did */
        post: operations["startGuests"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/import/libvirt": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Make a VM (stopped) from a libvirt domain XML (virsh dumpxml): name, UUID, MACs kept; disks copied into a pool or used in place; what cannot be carried over refused (IMPORT_UNSUPPORTED, listed in details.unsupported) unless ignoreUnsupported */
        post: operations["importLibvirtDomain"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/nodes/{node}/evacuate": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Move every VM away from a node, each as its `evacuate` setting says (live, cold or stop), to where placement puts it; the node takes no new VMs until `restore`. 202 with an operation whose result has one line per VM; one VM's failure never stops the others. An offline node's VMs are listed as stranded */
        post: operations["evacuateNode"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/nodes/{node}/restore": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Re-enable an evacuated node and bring back the VMs its evacuation moved away that nobody moved since (`skip`: only re-enable it); 202 with an operation */
        post: operations["restoreNode"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/cluster/moves/check": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Node to node: the files a VM opens exist on this node (before a cold move) */
        post: operations["checkClusterMove"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/cluster/moves/incoming": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Node to node: prepare a QEMU with -incoming for a VM the calling node moves here (its existing record; nothing is written until the hand-over). Answers where QEMU listens */
        post: operations["prepareIncomingClusterMove"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/cluster/moves/incoming/{id}/finish": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Node to node: the stream completed; take the VM over (one write of its record's node) and run it here */
        post: operations["finishIncomingClusterMove"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/cluster/moves/incoming/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Node to node: the source gave up; end the arriving QEMU (refused once the VM was taken over here) */
        delete: operations["abortIncomingClusterMove"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Prometheus metrics: VMs (CPU, memory, balloon, guest memory, disks, NICs, state), host, sampler, API and daemon */
        get: operations["getPrometheusMetrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vms/{name}/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A VM's sampled metrics history (bounded; the last hour at the default settings), oldest first, with per-second rates */
        get: operations["getVmMetrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/import/ovf": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Make a VM (stopped) from an OVF/OVA appliance (VMware, VirtualBox) on the daemon's host: CPUs, memory, firmware, NICs (MACs kept) and disk buses from the descriptor, disks converted into a pool. Checked first: what cannot be carried over refuses (OVF_UNSUPPORTED, listed in details.unsupported) unless ignoreUnsupported; then 202 with an operation whose result is the import (ImportOvfReply); a dry run answers the plan (200) */
        post: operations["importOvf"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/audit": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The audit log: every mutating API call with who, what, when and the outcome (secrets redacted) */
        get: operations["listAuditRecords"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/images": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List images */
        get: operations["listImages"];
        put?: never;
        /** Import an image from a URL or a host file: verified (SHA-256), converted to qcow2 (raw, qcow2, VMDK, VDI, VHDX, VPC, OVA); an operation */
        post: operations["importImage"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/images/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Show an image */
        get: operations["getImage"];
        put?: never;
        post?: never;
        /** Delete an imported image (refused while disks are linked clones of it) */
        delete: operations["deleteImage"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Recent events, or a live stream (text/event-stream) with follow=true */
        get: operations["listEvents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vms/{name}/spice.vv": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A remote-viewer connection file for the VM's SPICE display: a TCP port opened for it with a password of its own (over the TLS listener: on the listener's address, with TLS and the certificate in the file; on the unix socket: 127.0.0.1). The port closes 60 s after it was opened or last used, and when the VM stops. CONSOLE_UNAVAILABLE when the VM has no SPICE display. */
        get: operations["getSpiceConnectionFile"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        /** @description Every error has this shape. */
        Error: {
            /** @description Stable error code; branch on this, not on the message. */
            code: "INVALID_SPEC" | "INVALID_NAME" | "NOT_FOUND" | "VM_NOT_FOUND" | "IMAGE_NOT_FOUND" | "IMAGE_NOT_READY" | "VM_EXISTS" | "VM_BUSY" | "VM_STATE" | "CONSOLE_UNAVAILABLE" | "HOST_CAPACITY" | "HUGEPAGES_UNAVAILABLE" | "HOST_NO_IOMMU" | "HOSTDEV_UNAVAILABLE" | "FIRMWARE_UNAVAILABLE" | "HOST_DEVICE_UNAVAILABLE" | "SHARE_PATH_NOT_ALLOWED" | "NOT_MIGRATABLE" | "QUOTA_EXCEEDED" | "PROJECT_NOT_FOUND" | "PROJECT_EXISTS" | "PROJECT_IN_USE" | "PROFILE_NOT_FOUND" | "PROFILE_EXISTS" | "PROFILE_IN_USE" | "MEMORY_BACKING_CONFLICT" | "TEMPLATE_NOT_FOUND" | "TEMPLATE_EXISTS" | "TEMPLATE_IN_USE" | "CLONE_IDENTITY_FAILED" | "CLONE_USER_DATA_FAILED" | "TEMPLATE_SOURCE_UNFIT" | "POOL_NOT_FOUND" | "VOLUME_NOT_FOUND" | "VOLUME_EXISTS" | "VOLUME_IN_USE" | "SNAPSHOT_NOT_FOUND" | "SNAPSHOT_EXISTS" | "IMAGE_EXISTS" | "IMAGE_IN_USE" | "OVF_INVALID" | "OVF_UNSUPPORTED" | "UNSAFE_PATH" | "CHECKSUM_MISMATCH" | "DOWNLOAD_FAILED" | "UNSUPPORTED_FORMAT" | "UNSAFE_IMAGE" | "STORAGE_FULL" | "STORAGE_FAILED" | "QEMU_FAILED" | "KVM_NO_ACCESS" | "TPM_UNAVAILABLE" | "AGENT_UNAVAILABLE" | "AGENT_ERROR" | "PORT_IN_USE" | "NETWORK_NOT_FOUND" | "NETWORK_EXISTS" | "NETWORK_IN_USE" | "NETWORK_OVERLAP" | "NETWORK_PARENT" | "NETWORK_FAILED" | "QMP_ERROR" | "TIMEOUT" | "INTERRUPTED" | "DAEMON_UNREACHABLE" | "UNAUTHENTICATED" | "TOKEN_EXPIRED" | "FORBIDDEN" | "TOKEN_NOT_FOUND" | "TOKEN_EXISTS" | "PEER_NOT_FOUND" | "PEER_EXISTS" | "PEER_UNREACHABLE" | "MIGRATION_FAILED" | "MIGRATION_NOT_FOUND" | "BACKUP_REPO_NOT_FOUND" | "BACKUP_REPO_EXISTS" | "BACKUP_REPO_UNAVAILABLE" | "BACKUP_NOT_FOUND" | "BACKUP_CORRUPT" | "BACKUP_SCHEDULE_NOT_FOUND" | "BACKUP_SCHEDULE_EXISTS" | "BACKUP_KEY_MISMATCH" | "FILE_EXISTS" | "EXPORT_INVALID" | "LIBVIRT_XML_INVALID" | "IMPORT_UNSUPPORTED" | "CONFLICT" | "CLUSTER_STORE_UNAVAILABLE" | "CLUSTER_STORE_FAILED" | "CLUSTER_EXISTS" | "NODE_ONLINE" | "NODE_UNREACHABLE" | "VM_ON_OTHER_NODE" | "HA_NEEDS_SHARED_STORAGE" | "NODE_FENCED" | "DISK_OWNED_ELSEWHERE" | "STORAGE_EXPORT_UNAVAILABLE" | "JOIN_TOKEN_INVALID" | "NODE_NOT_EMPTY" | "PLACEMENT_IMPOSSIBLE" | "POOL_NOT_ON_NODE" | "NETWORK_NOT_ON_NODE" | "GROUP_NOT_FOUND" | "GROUP_EXISTS" | "GROUP_IN_USE" | "NODE_EVACUATED" | "HOOK_NOT_FOUND" | "HOOK_EXISTS" | "NOT_IN_CLUSTER" | "REVISION_COMPACTED" | "APPLY_INVALID" | "APPLY_IMMUTABLE" | "CONFIRMATION_REQUIRED" | "STORE_SCHEMA_TOO_NEW" | "INTERNAL";
            /** @description What went wrong and what to do next. */
            message: string;
            details?: {
                [key: string]: unknown;
            };
        };
        Vm: {
            id: string;
            name: string;
            state: "stopped" | "starting" | "running" | "paused" | "stopping" | "crashed" | "migrating" | "unknown" | "saved" | "migrated";
            /** @description Why the VM is in this state (crash, failed adoption…). */
            stateReason?: string;
            /** @description True while the daemon, just restarted, re-attaches to this guest (its pid, start time and QMP): `state` is what was recorded until then, and requests about this VM wait for it. */
            adopting?: boolean;
            /** @description QEMU process id while it runs. */
            pid?: number;
            cpus: number;
            /** @description Memory in MiB. */
            memory: number;
            /** @description Memory as a size, e.g. 256M. */
            memoryText: string;
            machine: string;
            accel?: string;
            image?: string;
            vnc: boolean;
            /** @description Has a SPICE display. */
            spice: boolean;
            maxCpus: number;
            /** @description MiB */
            maxMemory: number;
            /** @description Percent of one host CPU. */
            cpuLimit?: number;
            cpuWeight?: number;
            /** @description What the running guest has now, where it differs from the configuration. */
            live?: {
                cpus: number;
                memory: number;
            };
            /** @description Settings that apply at the next start. */
            pending?: string[];
            autostart?: {
                order: number;
                delaySeconds: number;
            };
            restart: {
                mode: string;
                maxRestarts: number;
                windowSeconds: number;
            };
            /** @description Automatic restarts within the restart window. */
            restartsInWindow: number;
            /** @description In a cluster: the node that holds and runs the VM. */
            node?: string;
            /** @description High availability is on: restarted on another node when its node is lost. */
            ha?: {
                priority: number;
            };
            /** @description The HA manager is to start it on its node, and why. */
            haPending?: {
                reason: string;
                from?: string;
                at: string;
            };
            /** @description In a cluster: what `node evacuate` does with it (live, cold or stop); absent: live. */
            evacuate?: string;
            /** @description Its last move between nodes: from, to, why, when. */
            lastMove?: {
                from: string;
                to: string;
                at: string;
                /** @description Why: migrate (a user), evacuation (`node evacuate`), restore (`node restore`), or the HA manager's reason. */
                reason: string;
                id?: string;
                /** @description live or cold (moves by vm migrate --node, node evacuate and restore) */
                kind?: string;
            };
            forwards: string[];
            project: string;
            nics: {
                id: string;
                kind: string;
                mac: string;
                network?: string;
            }[];
            cloudInit?: {
                format: string;
                hostname?: string;
                user?: string;
                sshKeys: number;
                password: boolean;
                userData: boolean;
                networkConfig: boolean;
            };
            disks: {
                id: string;
                pool?: string;
                volume?: string;
                path: string;
                format: string;
                readOnly: boolean;
                boot: boolean;
                iops?: number;
                bps?: number;
                /** @description The I/O thread serving it. */
                iothread?: string;
            }[];
            /** @description Hugepages, NUMA nodes, pinning, I/O threads and host devices. */
            placement?: {
                /** @description Hugepage size backing guest RAM, e.g. 2M. */
                hugepages?: string;
                numa?: {
                    node: number;
                    cpus: string;
                    /** @description MiB */
                    memory: number;
                    hostNodes?: string;
                }[];
                iothreads?: number;
                pin?: {
                    vcpus?: {
                        [key: string]: string;
                    };
                    emulator?: string;
                    iothreads?: string;
                };
                hostdevs?: string[];
                /** @description While QEMU runs (GET /v1/vms/{name} only): the host CPUs each thread may run on now, from /proc/PID/task/TID/status. */
                effective?: {
                    vcpus: {
                        [key: string]: string;
                    };
                    emulator: string;
                    iothreads: {
                        [key: string]: string;
                    };
                };
            };
            /** @description A live migration in progress: outgoing (to peer) or incoming (from the address in peer). */
            migration?: {
                id: string;
                role: string;
                peer: string;
                startedAt: string;
            };
            /** @description State migrated: where the guest went. */
            migratedTo?: {
                peer: string;
                url: string;
                at: string;
            };
            /** @description Restored with backup restore --live and its disks are still being copied from the backup (copying), or the copy was cut short and the disks are incomplete (failed). */
            liveRestore?: {
                backup: string;
                repo: string;
                state: "copying" | "failed";
                startedAt: string;
                error?: string;
            };
            /** @description Guest hardware: topology, CPU flags, buses and models, USB, watchdog, vsock, shares, OS profile. */
            hardware?: {
                os?: string;
                /** @description The machine type pinned at create, e.g. pc-q35-7.2. */
                machineVersion?: string;
                topology?: {
                    sockets: number;
                    cores: number;
                    threads: number;
                };
                cpuFlags?: string[];
                tablet: boolean;
                hyperv?: boolean;
                rtc?: string;
                watchdog?: {
                    model: string;
                    action: string;
                };
                vsock?: {
                    cid: number;
                };
                usb?: string[];
                shares?: {
                    tag: string;
                    source: string;
                    readOnly: boolean;
                }[];
                disks: {
                    id: string;
                    bus: string;
                    cache?: string;
                    aio?: string;
                    discard: boolean;
                    detectZeroes?: string;
                }[];
                nics: {
                    id: string;
                    model: string;
                    queues: number;
                    mtu?: number;
                }[];
                /** @description Where the VM gets less than it asked for (e.g. Hyper-V enlightenments TCG cannot give). */
                notes: string[];
            };
            startedAt?: string;
            lastExit?: {
                code: number | null;
                signal: string | null;
                at: string;
            };
            /** @description The firmware (absent: BIOS). */
            firmware?: {
                kind: "bios" | "uefi";
                secureBoot: boolean;
                /** @description The firmware code file (read-only), chosen at create. */
                code?: string;
                /** @description The vars template the NVRAM was made from (and `nvram reset` copies). */
                varsTemplate?: string;
                /** @description The VM's own NVRAM volume. */
                nvram?: {
                    pool: string;
                    volume: string;
                    path: string;
                };
            };
            createdAt: string;
            updatedAt: string;
            /** @description SMBIOS system UUID (-uuid), new for every VM and clone; absent on VMs made before it existed. */
            uuid?: string;
            labels?: {
                [key: string]: string;
            };
            description?: string;
            /**
             * @description Guest RAM is a shared file (the VM can become a warm template).
             * @enum {string}
             */
            memoryBacking?: "file";
            /** @description GUID of its VM generation ID device (new for every warm clone). */
            vmgenid?: string;
            /** @description The warm template it was cloned from. */
            template?: string;
            /** @description A warm clone in its first run (GET /v1/vms/{name} only, from /proc/PID/smaps): its guest RAM is the template's memory file mapped copy-on-write. Absent after a cold start. */
            warmMemory?: {
                /** @description The template whose memory file its QEMU maps. */
                template: string;
                /** @description Resident guest RAM still the template's pages, shared with its other clones (Shared_Clean + Shared_Dirty). */
                sharedBytes: number;
                /** @description Resident guest RAM only this clone maps (Private_Clean + Private_Dirty): pages it wrote, and pages of the template no other process maps now (with a single clone, all of them). */
                privateBytes: number;
                /** @description Pages the clone wrote, copied on write (Anonymous of the mapping): what it no longer shares with the template. */
                copiedBytes: number;
            };
            /** @description CD-ROM drives and their media. */
            cdroms?: {
                id: string;
                /** @description scsi (virtio-scsi), sata (q35 AHCI) or ide. */
                bus: string;
                /** @description The ISO image in the drive; absent: the tray is empty. */
                image?: string;
                path?: string;
                bootIndex?: number;
            }[];
            /** @description Device kinds in boot order (from the per-device boot indexes). */
            bootOrder?: ("cdrom" | "disk" | "network")[];
            bootOnce?: "cdrom" | "disk" | "network";
            /** @description The VM has a vTPM (swtpm). */
            tpm?: {
                /** @description The guest's TPM interface: tpm-crb (q35) or tpm-tis (pc). */
                model: "crb" | "tis";
                /** @enum {string} */
                version: "2.0";
            };
            /** @description The placement group it is in. */
            group?: string;
            placed?: {
                /** @description The node chosen. */
                node: string;
                at: string;
                score?: number;
                /** @description What the chosen node had for it (capacity, group term). */
                reasons: string[];
                /** @description The target the create asked for. */
                target?: string;
                group?: string;
                /** @description The other nodes: their lower score, or why they were ruled out. */
                others: {
                    node: string;
                    eligible: boolean;
                    score?: number;
                    reasons: string[];
                }[];
            };
            /** @description The profiles it uses, in order. */
            profiles?: string[];
            /** @description Settings it has of its own (winning over its profiles). */
            ownSettings?: string[];
        };
        Image: {
            name: string;
            description: string;
            status: "ready" | "building" | "missing" | "failed";
            /** @description kernel: direct kernel boot; disk: VMs get a disk cloned from it; iso: installer media (ISO 9660) for CD-ROM drives. */
            kind: "kernel" | "disk" | "iso";
            origin: "builtin" | "imported";
            disk?: {
                path: string;
                format: string;
                virtualSizeBytes: number;
            };
            /** @description The ISO file of an iso image. */
            iso?: {
                path: string;
                sizeBytes: number;
            };
            sha256?: string;
            source?: {
                url?: string;
                file?: string;
                /** @description The VM it was made from (image create --from-vm). */
                vm?: string;
            };
            importedAt?: string;
            kernelVersion?: string;
            builtAt?: string;
            error?: string;
        };
        Event: {
            seq: number;
            time: string;
            /** @description vm.created, vm.state, vm.crashed, vm.deleted, vm.adopted, vm.adopt-failed, vm.stop-timeout, daemon.started, daemon.stopping */
            type: string;
            vm?: string;
            data: {
                [key: string]: unknown;
            };
        };
        /**
         * @description The name of an event (Event.type) the daemon publishes; each has its own data.
         * @enum {string}
         */
        EventType: "daemon.started" | "daemon.stopping" | "vm.created" | "vm.deleted" | "vm.state" | "vm.crashed" | "vm.adopted" | "vm.adopt-failed" | "vm.stop-via-agent" | "vm.stop-timeout" | "vm.settings" | "vm.disk-attached" | "vm.disk-detached" | "vm.nic-added" | "vm.nic-removed" | "vm.autostarted" | "vm.autostart-failed" | "vm.restart-scheduled" | "vm.restarted" | "vm.restart-failed" | "vm.restart-given-up" | "vm.saved" | "vm.restored" | "vm.warm-ready" | "template.created" | "template.deleted" | "vm.nvram-reset" | "vm.migration-started" | "vm.migration-failed" | "vm.migrated" | "vm.ha-moved" | "vm.ha-started" | "vm.ha-failed" | "vm.ha-stranded" | "node.fenced" | "node.unfenced" | "vm.migrated-in" | "vm.moved" | "vm.move-failed" | "node.evacuated" | "node.restored" | "vm.migration-in-failed" | "snapshot.created" | "backup.created" | "backup.failed" | "backup.restored" | "vm.exported" | "vm.imported" | "snapshot.reverted" | "snapshot.deleted" | "snapshot.discarded" | "pool.created" | "volume.created" | "volume.resized" | "volume.deleted" | "volume.forgotten" | "image.imported" | "image.deleted" | "network.created" | "network.deleted" | "project.created" | "project.updated" | "project.deleted" | "peer.added" | "peer.removed" | "operation.started" | "operation.progress" | "operation.done";
        Pool: {
            name: string;
            /** @enum {string} */
            kind: "dir";
            path: string;
            totalBytes: number;
            usedBytes: number;
            availableBytes: number;
            volumes: number;
            /** @description Every node of the cluster reaches this same directory (an NFS mount, say): its disks can run on any node, and HA VMs need them. */
            shared?: boolean;
            /** @description HOST:PORT of the pool's fencing NBD export (`hangar storage-export`): nodes reach its disks only through it, and a node that lost its lease is cut off at the storage. */
            export?: string;
            /** @description In a cluster: the only nodes that have this pool (absent: every node). Elsewhere its capacity reads 0 and volumes are refused (POOL_NOT_ON_NODE). */
            nodes?: string[];
            createdAt: string;
        };
        Volume: {
            pool: string;
            name: string;
            format: "qcow2" | "raw";
            sizeBytes: number;
            path: string;
            backing?: {
                /** @enum {string} */
                kind: "image";
                name: string;
                path: string;
                format: string;
            };
            /** @description The VM using it. */
            attachedTo?: string;
            /** @description The VM it was created for; deleted with it. */
            ownedBy?: string;
            /** @description The frozen base volume this one is an overlay of (linked clones of a VM). */
            base?: {
                pool: string;
                name: string;
            };
            /** @description A frozen, read-only base of linked clones: deleted with its last overlay. */
            frozen?: boolean;
            createdAt: string;
        };
        Operation: {
            id: string;
            kind: string;
            target: string;
            state: "running" | "succeeded" | "failed" | "cancelled";
            progress: {
                phase?: string;
                percent?: number;
                bytesDone?: number;
                bytesTotal?: number;
                message?: string;
                /** @description Migration: bytes of RAM still to send. */
                remainingBytes?: number;
                /** @description Migration: how fast the guest dirties memory. */
                dirtyBytesPerSecond?: number;
                /** @description Throughput now. */
                bytesPerSecond?: number;
                /** @description Migration: QEMU's estimate of the final pause. */
                expectedDowntimeMs?: number;
            };
            error?: {
                code: string;
                message: string;
            };
            result?: unknown;
            createdAt: string;
            updatedAt: string;
            finishedAt?: string;
        };
        Snapshot: {
            name: string;
            vm: string;
            /** @description The snapshot this one was taken on top of (the tree). */
            parent?: string;
            /** @description Includes memory and device state. */
            memory: boolean;
            runState: "running" | "paused" | "stopped";
            disks: {
                id: string;
                path: string;
            }[];
            /** @description The VM was last reverted to (or took) this snapshot. */
            current: boolean;
            createdAt: string;
            description?: string;
            /** @description The guest agent froze the file systems while it was taken. */
            fsFrozen?: boolean;
        };
        Backup: {
            id: string;
            vm: string;
            vmId: string;
            repo: string;
            createdAt: string;
            kind: "full" | "incremental";
            /** @description Why this backup read every disk although an earlier one exists. */
            fullReason?: string;
            /** @description The backup its unchanged chunks came from (incremental). */
            parent?: string;
            /** @description Bytes read from the VM's disks. */
            readBytes: number;
            /** @description Bytes newly written to the repository (after deduplication and compression). */
            storedBytes: number;
            /** @description The disks' total virtual size. */
            sizeBytes: number;
            disks: {
                id: string;
                sizeBytes: number;
            }[];
            durationMs: number;
            /** @description The guest agent froze the file systems for the point in time. */
            fsFrozen: boolean;
        };
        BackupRepo: {
            name: string;
            /** @description The repository directory on the host (local or mounted network storage). */
            path: string;
            /** @description Chunks and manifests are encrypted (AES-256-GCM) with the key file. */
            encrypted: boolean;
            keyFile?: string;
            /** @description Backups without --repo go here. */
            default: boolean;
            createdAt: string;
        };
        BackupSchedule: {
            vm: string;
            vmId: string;
            repo: string;
            /** @description The period, e.g. 6h, 1d, 7d. */
            every: string;
            everySeconds: number;
            /** @description HH:MM, UTC: the time of day runs fall on. */
            at?: string;
            /** @description After each run, keep the newest N backups of the VM in the repository… */
            keepLast?: number;
            /** @description …then the newest of each of N days… */
            keepDaily?: number;
            /** @description …then the newest of each of N weeks… */
            keepWeekly?: number;
            /** @description …then the newest of each of N months (Proxmox Backup Server's rule); none: keep every backup. */
            keepMonthly?: number;
            createdAt: string;
            /** @description When the next run is due (a run missed while the daemon was down is due at once, and runs once). */
            nextRunAt: string;
            running: boolean;
            /** @description The VM was busy with another operation: retries so far of the run now due. */
            busyRetries?: number;
            lastRun?: {
                startedAt: string;
                finishedAt: string;
                ok: boolean;
                /** @description The backup the run made. */
                backup?: string;
                error?: string;
                /** @description The error code of a failed run. */
                code?: string;
                /** @description Backups the retention removed after the run. */
                pruned?: string[];
                /** @description The backup was stored, but the prune after it failed. */
                pruneError?: string;
            };
        };
        Network: {
            name: string;
            subnet: string;
            nat: boolean;
            isolated: boolean;
            parent?: string;
            domain?: string;
            bridge: string;
            /** @description nat, routed, isolated or bridged (with a parent interface). */
            mode: string;
            gateway?: string;
            dhcpRange?: string[];
            /** @description Directory the network serves over TFTP (network boot). */
            tftpRoot?: string;
            /** @description Boot file DHCP hands to clients (iPXE, PXE). */
            bootFile?: string;
            /** @description TFTP server of the boot file, when not the gateway. */
            bootServer?: string;
            leases: {
                mac: string;
                ip: string;
                hostname?: string;
                expires: string;
                clientId?: string;
            }[];
            vms: string[];
            /** @description In a cluster: the only nodes that have this network (absent: every node). Elsewhere it is not set up and VMs with a NIC on it do not start (NETWORK_NOT_ON_NODE). */
            nodes?: string[];
            createdAt: string;
        };
        Project: {
            name: string;
            description?: string;
            quotas: {
                vms?: number;
                cpus?: number;
                memoryMiB?: number;
                diskBytes?: number;
            };
            usage: {
                vms: number;
                cpus: number;
                memoryMiB: number;
                diskBytes: number;
            };
            createdAt: string;
        };
        Peer: {
            name: string;
            url: string;
            fingerprint: string;
            createdAt: string;
            host?: {
                hostname?: string;
                version?: string;
            };
        };
        Profile: {
            name: string;
            description?: string;
            /** @description Settings, by the names of vm create / vm set. cpus, memory, maxCpus, maxMemory, cpuLimit, cpuWeight, labels, ha, haPriority, autostart and restart re-apply to the VMs that use the profile; the others apply to new VMs. */
            settings: {
                /** @description vCPUs. */
                cpus?: number;
                /** @description MiB, or a size such as "2G" (stored in MiB). */
                memory?: number | string;
                /** @description vCPU hot-plug ceiling. */
                maxCpus?: number;
                /** @description Memory hot-plug ceiling. */
                maxMemory?: number | string;
                /** @description Percent of one host CPU, e.g. 150 or "150%". */
                cpuLimit?: number | string;
                /** @description 1-10000. */
                cpuWeight?: number;
                /** @description Labels, merged key by key over the profiles (the VM's own last). */
                labels?: {
                    [key: string]: string;
                };
                ha?: boolean;
                haPriority?: number;
                autostart?: boolean;
                restart?: "no" | "on-failure" | "always";
                /** @description New VMs only. */
                cpuModel?: string;
                machine?: "q35" | "pc" | "microvm";
                diskBus?: "virtio-blk" | "virtio-scsi" | "sata" | "nvme";
                diskCache?: "none" | "writeback" | "writethrough" | "directsync" | "unsafe";
                nicModel?: "virtio" | "e1000e" | "rtl8139";
                /** @description Managed networks (new VMs only). */
                networks?: string[];
                /** @description cloud-init user (new VMs only). */
                user?: string;
                /** @description cloud-init public key lines (new VMs only). */
                sshKeys?: string[];
            };
            /** @description The VMs that use it. */
            vms: string[];
            createdAt: string;
            updatedAt: string;
        };
        Template: {
            name: string;
            /** @description The VM it was made of (which went on running). */
            sourceVm: string;
            createdAt: string;
            cpus: number;
            /** @description Guest RAM in MiB. */
            memory: number;
            image?: string;
            /** @description Read-only base copies of its disks; clones get qcow2 overlays of them. */
            disks: {
                id: string;
                sizeBytes: number;
            }[];
            /** @description Bytes on disk of its memory file (clones map it privately). */
            memoryBytes: number;
            /** @description Bytes of its saved device state. */
            stateBytes: number;
            /** @description How long the source was paused to make it. */
            pauseMs: number;
            /** @description VMs whose disks are linked to it (delete is refused while there are any). */
            clones: string[];
        };
        /** @description An API token (never its secret). */
        Token: {
            /** @description The public part of the token (hgr_<id>_…): safe to log and show. */
            id: string;
            name: string;
            /** @description viewer: reads (GET) and the event stream; operator: also VM lifecycle and VM, volume and snapshot changes; admin: everything. */
            role: "viewer" | "operator" | "admin";
            /** @description Confined to this project: sees and touches only its VMs, volumes and snapshots. */
            project?: string;
            createdAt: string;
            expiresAt?: string;
            /** @description Updated at most once a minute. */
            lastUsedAt?: string;
            expired: boolean;
        };
        ClusterStatus: {
            /** @description single: this host alone, on its SQLite store; cluster: a node of a cluster on etcd. */
            mode: "single" | "cluster";
            /** @description This node's name. */
            node?: string;
            clusterId?: string;
            /** @description The etcd endpoints. */
            etcd?: string[];
            /** @description The cluster's key prefix in etcd. */
            prefix?: string;
            /** @description The node follows etcd now; false while etcd is unreachable (reads answer from the last state, writes fail with CLUSTER_STORE_UNAVAILABLE). */
            connected?: boolean;
            /** @description The store revision this node has seen. */
            revision: number;
            leaseTtlSeconds?: number;
            /** @description When this node's lease runs out unless renewed. */
            leaseDeadline?: string;
            /** @description The pid of this node's fencer, while it runs (it holds the lease and kills the node's HA guests when it cannot renew it). */
            fencerPid?: number;
            /** @description This node is fenced now: its fencer killed these HA guests; they start again once the lease is renewed, unless another node took them. */
            fenced?: {
                at: string;
                reason: string;
                vms: string[];
            };
            /** @description How long other nodes wait after a lease expired before restarting its HA VMs. */
            haGraceSeconds?: number;
            /** @description How long before its lease's deadline a node's fencer kills its HA guests. */
            fenceMarginSeconds?: number;
        };
        Node: {
            name: string;
            /** @description online while its lease is alive in etcd. */
            state: "online" | "offline";
            /** @description Its TLS API address (host:port), when it listens. */
            address?: string;
            /** @description SHA-256 fingerprint of its TLS certificate (what other nodes pin). */
            fingerprint?: string;
            cpus: number;
            memoryMiB: number;
            cpuOvercommit: number;
            memoryOvercommit: number;
            labels: {
                [key: string]: string;
            };
            joinedAt: string;
            version: string;
            /** @description `node evacuate` ran or runs: placement skips the node until `node restore`. */
            evacuation?: {
                state: "evacuating" | "evacuated";
                since: string;
            };
            leaseTtlSeconds?: number;
            /** @description Seconds since its lease was last renewed, as etcd counts them. */
            leaseAgeSeconds?: number;
            allocation: {
                vms: number;
                running: number;
                /** @description vCPUs of its running VMs. */
                cpus: number;
                /** @description Memory of its running VMs. */
                memoryMiB: number;
            };
        };
        PlacementGroup: {
            name: string;
            /** @description affinity: the members on one node; anti-affinity: each member on a node of its own. */
            policy: "affinity" | "anti-affinity";
            /** @description hard (default): a node that breaks the rule is ruled out, and a create no node satisfies fails with PLACEMENT_IMPOSSIBLE; soft: only a weight in the score (the rule is kept when it can be). */
            enforcement: "hard" | "soft";
            description?: string;
            createdAt: string;
            /** @description The VMs in the group, by name. */
            members: {
                vm: string;
                /** @description In a cluster: the node that holds it. */
                node?: string;
                state: string;
            }[];
            /** @description The members are where the policy wants them (always true on a single host, where nothing is placed). */
            satisfied: boolean;
        };
        Hook: {
            name: string;
            id: string;
            url: string;
            events: string[];
            /** @description Whether deliveries are signed (the secret itself is never shown). */
            secret: boolean;
            createdAt: string;
            /** @description The seq of the last event this hook is done with: later matching events are delivered, in order. */
            cursor: number;
            /** @description The last deliveries, newest first (GET one: up to 20; the list: the last one). */
            deliveries: {
                /** @description The X-Hangar-Delivery header: the same for every attempt of one event to one hook. */
                id: string;
                /** @description The event's seq in the event log (GET /v1/events). */
                eventSeq: number;
                eventType: string;
                /** @description When the last attempt was made. */
                time: string;
                attempts: number;
                /** @description delivered: the receiver answered 2xx; retrying: the last attempt failed, later events wait for this one. */
                outcome: "delivered" | "retrying";
                /** @description The receiver's HTTP status of the last attempt. */
                status?: number;
                /** @description Why the last attempt failed. */
                error?: string;
                nextAttemptAt?: string;
                durationMs?: number;
            }[];
        };
        /** @description One sample: counters as read, plus per-second rates (…PerSecond, cpuUsage, usage) over the interval since the previous sample of the same QEMU process; the first sample of a run has no rates. A sample with only time and state marks the VM stopping. */
        MetricsPoint: {
            /** @description When the sample was taken (ISO 8601). */
            time: string;
            state: "stopped" | "starting" | "running" | "paused" | "stopping" | "crashed" | "migrating" | "unknown" | "saved" | "migrated";
            /** @description CPU time of the QEMU process so far (counter; restarts at 0 with each QEMU process). */
            cpuSeconds?: number;
            /** @description CPU seconds per second since the previous sample: 1 = one host CPU busy. */
            cpuUsage?: number;
            /** @description Per vCPU thread; absent when vCPUs share a thread. */
            vcpus?: {
                index: number;
                cpuSeconds: number;
                usage?: number;
            }[];
            /** @description Resident memory of the QEMU process. */
            rssBytes?: number;
            /** @description Memory the guest has per its balloon. */
            balloonActualBytes?: number;
            /** @description The guest's own memory statistics (virtio-balloon); absent until its driver reports. */
            guestMemory?: {
                totalBytes?: number;
                freeBytes?: number;
                availableBytes?: number;
                diskCachesBytes?: number;
                swapInBytes?: number;
                swapOutBytes?: number;
                majorFaults?: number;
                minorFaults?: number;
                /** @description When the guest last reported (unix seconds). */
                lastUpdate: number;
            };
            disks?: {
                device: string;
                readBytes: number;
                writeBytes: number;
                readOps: number;
                writeOps: number;
                flushOps: number;
                readBytesPerSecond?: number;
                writeBytesPerSecond?: number;
                readOpsPerSecond?: number;
                writeOpsPerSecond?: number;
            }[];
            /** @description NICs on managed networks (taps) only: QEMU 7.2 keeps no counters for user-mode NICs. */
            nics?: {
                nic: string;
                /** @description The host tap the counters come from. */
                tap: string;
                /** @description Received by the guest. */
                rxBytes: number;
                /** @description Sent by the guest. */
                txBytes: number;
                rxPackets: number;
                txPackets: number;
                rxBytesPerSecond?: number;
                txBytesPerSecond?: number;
                rxPacketsPerSecond?: number;
                txPacketsPerSecond?: number;
            }[];
        };
        AuditEntry: {
            seq: number;
            /** @description When the request arrived (ISO 8601). */
            time: string;
            /** @description Who: a token id once auth is on; `unix-socket` for the local socket. */
            actor: string;
            transport: "unix" | "tcp";
            method: string;
            /** @description The route pattern, e.g. /v1/vms/:name/stop (the raw path when no route matched). */
            route: string;
            /** @description What it acted on, e.g. vms/web1/stop, volumes/default/data1. */
            target?: string;
            vm?: string;
            params?: {
                [key: string]: unknown;
            };
            query?: {
                [key: string]: unknown;
            };
            /** @description The request body with secrets (passwords, hashes, tokens, user-data…) replaced by [REDACTED]. */
            body?: unknown;
            /** @description The HTTP status answered. */
            status: number;
            /** @description The error code, when refused or failed. */
            errorCode?: string;
            durationMs: number;
            requestId?: string;
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    getHost: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        version: string;
                        /** @description Versions of the daemon, its runtime, QEMU and the store. */
                        versions: {
                            /** @description The daemon's Hangar version (as `version`). */
                            hangar: string;
                            /** @description The Node.js runtime the daemon runs on. */
                            node: string;
                            /** @description qemu-system-x86_64 --version. */
                            qemu?: string;
                            /** @description The store: sqlite (single host) or etcd (cluster). */
                            store?: string;
                            /** @description The store's schema version (SQLite: its user_version). A Hangar older than the one that wrote it refuses to start (STORE_SCHEMA_TOO_NEW). */
                            storeSchema?: number;
                            /** @description The Hangar version recorded as the store's last writer. */
                            storeWrittenBy?: string;
                        };
                        hostname: string;
                        cpus: number;
                        /** @description MiB */
                        memory: number;
                        /** @description The daemon's default accelerator (kvm, tcg or auto). */
                        accel: string;
                        /** @description What auto resolves to on this host. */
                        autoAccel: string;
                        kvmUsable: boolean;
                        qemuVersion?: string;
                        /** @description VM counts by state. */
                        vms: {
                            [key: string]: number;
                        };
                        /** @description vCPUs and memory of the VMs that have a QEMU process. */
                        allocated: {
                            cpus: number;
                            /** @description MiB */
                            memory: number;
                        };
                        /** @description What running VMs may have in all: CPUs × cpuOvercommit, (memory − reservedMemory) × memoryOvercommit. Starting beyond it fails with HOST_CAPACITY. */
                        capacity: {
                            cpus: number;
                            /** @description MiB */
                            memory: number;
                        };
                        policy: {
                            cpuOvercommit: number;
                            memoryOvercommit: number;
                            /** @description MiB of host memory never given to guests. */
                            reservedMemory: number;
                        };
                        use: {
                            /** @description MiB (MemAvailable). */
                            memoryAvailable: number;
                            /** @description Load average over 1 minute. */
                            load1: number;
                            /** @description MiB resident in the running guests' QEMU processes (newest metrics samples). */
                            qemuRss?: number;
                        };
                        /** @description The TLS (TCP) listeners, when the daemon runs with --listen. */
                        tls?: {
                            /** @description SHA-256 of the TCP listener's certificate (for hangar --fingerprint). */
                            fingerprint: string;
                            listen: string[];
                        };
                    };
                };
            };
            /** @description Every error has this shape. */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listVms: {
        parameters: {
            query?: {
                /** @description Only VMs with these labels: "k=v" (or "k": any value); repeat for several (all must match). */
                label?: string | string[];
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Vm"][];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createVm: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description 1-63 letters, digits or hyphens, starting with a letter (pattern ^[a-zA-Z][a-zA-Z0-9-]{0,62}$). */
                    name: string;
                    /** @description In a cluster: the node to create it on, or @label / @label=value for any node with that label (default: the node with the most free capacity). */
                    target?: string;
                    /** @description Image to boot; see GET /v1/images. Default `tiny` (none with iso, or with a boot order naming network). */
                    image?: string;
                    /** @description vCPUs, 1-288. Default 1. */
                    cpus?: number;
                    /** @description MiB as a number, or a size such as "256M" or "2G". Default 256 MiB. */
                    memory?: number | string;
                    /** @description Default q35. */
                    machine?: "q35" | "pc" | "microvm";
                    /** @description Default: the daemon's --accel. */
                    accel?: "kvm" | "tcg" | "auto";
                    /** @description QEMU CPU model, e.g. max (default), host, qemu64. */
                    cpuModel?: string;
                    /** @description Graphical console (VGA + VNC on a unix socket). Default true except for microvm. */
                    vnc?: boolean;
                    /** @description A SPICE display too (QXL display device, SPICE agent channel; SPICE on a unix socket the daemon proxies: WebSocket /v1/vms/{name}/spice, connection files from /v1/vms/{name}/spice.vv). Default false; not for microvm. */
                    spice?: boolean;
                    /** @description Start the VM right after creating it. */
                    start?: boolean;
                    /** @description The storage pool of its new disks (default: default); an HA VM needs a shared one. */
                    pool?: string;
                    /** @description Root disk size for disk images (at least the image's size); for kernel images, a blank data disk of this size. */
                    diskSize?: number | string;
                    /** @description Copy the image instead of a linked clone (qcow2 backing file). */
                    fullCopy?: boolean;
                    /** @description Host port forwards on the user-mode NIC: "tcp:127.0.0.1:2222:22" (protocol:[address:]hostPort:guestPort). */
                    forwards?: string[];
                    /** @description Managed networks, one NIC on each; without them the VM gets one user-mode NIC. */
                    networks?: string[];
                    /** @description The project it counts against (default `default`). */
                    project?: string;
                    cloudInit?: {
                        /** @description NoCloud (cidata, default) or config-drive v2 (config-2, for cloudbase-init). */
                        format?: "nocloud" | "configdrive";
                        hostname?: string;
                        /** @description A user to create, with sudo; without it keys and password go to the image's default user. */
                        user?: string;
                        /** @description Public key lines. */
                        sshKeys?: string[];
                        /** @description A SHA-512 crypt hash ($6$…); the CLI hashes --password before sending it. */
                        passwordHash?: string;
                        /** @description #cloud-config YAML or a #! script. */
                        userData?: string;
                        /** @description cloud-init network-config YAML (v1 or v2). */
                        networkConfig?: string;
                    };
                    /** @description vCPUs can be hot-plugged up to this many. Default: cpus. */
                    maxCpus?: number;
                    /** @description Memory can be hot-plugged up to this much. Default: memory. */
                    maxMemory?: number | string;
                    /** @description CPU limit in percent of one host CPU, e.g. 150 or "150%" (cgroups). */
                    cpuLimit?: number | string;
                    /** @description Relative CPU weight 1-10000 (100 = default). */
                    cpuWeight?: number;
                    /** @description Start when the daemon starts (unless a user stopped it). */
                    autostart?: boolean;
                    /** @description Autostart sequence position (ascending). */
                    autostartOrder?: number;
                    /** @description Seconds to wait after starting it before the next autostart. */
                    autostartDelay?: number;
                    /** @description Restart policy: on-failure restarts crashes; always also guest power-offs. */
                    restart?: "no" | "on-failure" | "always";
                    /** @description At most this many automatic restarts per window (default 3). */
                    restartMax?: number;
                    /** @description The window in seconds (default 600). */
                    restartWindow?: number;
                    /** @description High availability (in a cluster): restarted on another node when its node is lost, once that node's fencer has killed it. Every disk must be on a shared pool. */
                    ha?: boolean;
                    /** @description HA restart order: higher first (default 0). */
                    haPriority?: number;
                    /** @description In a cluster, what `node evacuate` does with it: live-migrate (default), cold-migrate (stop, move, start again), or stop it where it is. */
                    evacuate?: "live" | "cold" | "stop";
                    /** @description Back guest RAM (and hot-plugged DIMMs) with hugepages: true (the host's default size), "2M", "1G" or {sizeKiB}. A start is refused (HUGEPAGES_UNAVAILABLE) unless enough pages are free. */
                    hugepages?: boolean | string | {
                        sizeKiB: number;
                    };
                    /** @description Guest NUMA nodes: their cpus cover vCPUs 0..maxCpus-1 exactly once; their memory adds up to memory. */
                    numa?: {
                        /** @description CPU list: "0-3,6", a number, or an array of numbers. */
                        cpus?: string | number | number[];
                        /** @description MiB, or a size such as "512M". */
                        memory: number | string;
                        /** @description CPU list: "0-3,6", a number, or an array of numbers. */
                        hostNodes?: string | number | number[];
                    }[];
                    /** @description Host CPUs for vCPU threads, the emulator (QEMU's other threads) and I/O threads; host CPUs must be online. */
                    pin?: {
                        /** @description vCPU index → host CPUs. */
                        vcpus?: {
                            [key: string]: string | number | number[];
                        };
                        /** @description CPU list: "0-3,6", a number, or an array of numbers. */
                        emulator?: string | number | number[];
                        /** @description CPU list: "0-3,6", a number, or an array of numbers. */
                        iothreads?: string | number | number[];
                    };
                    /** @description I/O threads for virtio-blk disks (iothread0…); disks are assigned round-robin. */
                    iothreads?: number;
                    /** @description Host PCI devices passed through with VFIO: the host needs an IOMMU (HOST_NO_IOMMU) and the device's IOMMU group bound to vfio-pci (HOSTDEV_UNAVAILABLE). */
                    hostdevs?: {
                        /** @description Full PCI address, e.g. 0000:01:00.0. */
                        address: string;
                    }[];
                    /** @description User labels: keys of 1-63 lower-case letters, digits, ".", "_", "/", "-" (starting and ending alphanumeric); values of at most 63 printable characters. INVALID_SPEC otherwise. */
                    labels?: {
                        [key: string]: string;
                    };
                    /** @description Free text about the VM (at most 1024 characters). */
                    description?: string;
                    /** @description Firmware: bios (default; SeaBIOS, qboot on microvm) or uefi (OVMF, found through QEMU's firmware descriptors in /usr/share/qemu/firmware; FIRMWARE_UNAVAILABLE when none fits). UEFI VMs get their own NVRAM (an owned raw volume `<name>-nvram`), made from the firmware's vars template. Not for microvm. */
                    firmware?: "bios" | "uefi";
                    /** @description UEFI Secure Boot with Microsoft's keys enrolled (SMM on): needs firmware uefi and machine q35 (else INVALID_SPEC). */
                    secureBoot?: boolean;
                    /** @description An ISO image (kind iso, see GET /v1/images) in a CD-ROM drive (cd0); without image the VM gets no image disk: give diskSize for a blank disk to install onto. Linux guests get the drive on virtio-scsi. */
                    iso?: string;
                    /** @description A second CD-ROM drive (cd1) with another ISO image, e.g. drivers. */
                    driverIso?: string;
                    /** @description Boot order of device kinds: cdrom, disk, network (e.g. ["cdrom","disk"] or ["cdrom,disk"]); each device of a kind gets a boot index. A kind the VM has no device of is refused (INVALID_SPEC). Default with an ISO: disk, then cdrom. Without image and ISO, an order naming network boots from the network (PXE/iPXE) with a blank disk of diskSize, if given. */
                    boot?: string[];
                    /** @description A TPM 2.0 backed by swtpm, run as the guest's own user, its state kept per VM (it moves with save/restore, memory snapshots and live migration; deleted with the VM): tpm-crb on q35, tpm-tis on pc. Refused on microvm (INVALID_SPEC) and when swtpm is not installed (TPM_UNAVAILABLE). Default false. */
                    tpm?: boolean;
                    /** @description OS profile: defaults applied under the explicit fields. windows: q35, SATA disk, e1000e NIC, USB tablet, Hyper-V enlightenments (those TCG cannot do are left out, see hardware.notes), RTC in local time, cloud-init as config-drive; also UEFI + Secure Boot + TPM. other: SATA and e1000e. */
                    os?: "linux" | "windows" | "other";
                    /** @description vCPU topology; sockets × cores × threads must equal maxCpus (or cpus). */
                    topology?: string | {
                        sockets: number;
                        cores: number;
                        threads: number;
                    };
                    /** @description CPU features to add or remove: "+avx2,-x2apic" or a list; names of a-z 0-9 _ . -. */
                    cpuFlags?: string | string[];
                    diskBus?: "virtio-blk" | "virtio-scsi" | "sata" | "nvme";
                    diskCache?: "none" | "writeback" | "writethrough" | "directsync" | "unsafe";
                    diskAio?: "threads" | "native" | "io_uring";
                    /** @description Pass TRIM/UNMAP from the guest down to the image (a qcow2 file shrinks). */
                    discard?: boolean;
                    detectZeroes?: "off" | "on" | "unmap";
                    nicModel?: "virtio" | "e1000e" | "rtl8139";
                    /** @description virtio multiqueue pairs; NICs on managed networks only (user-mode NICs have one queue). */
                    nicQueues?: number;
                    /** @description MTU a virtio NIC offers the guest. */
                    mtu?: number;
                    /** @description USB tablet (absolute pointer); default on for VMs with a display. */
                    tablet?: boolean;
                    /** @description Host USB devices to pass through: "VENDOR:PRODUCT" (hex) or "BUS-PORT"; refused (HOST_DEVICE_UNAVAILABLE) when not plugged in. */
                    usb?: (string | ({
                        /** @description 4 hex digits */
                        vendorId: string;
                        /** @description 4 hex digits */
                        productId: string;
                    } | {
                        bus: number;
                        /** @description e.g. 2.3 */
                        port: string;
                    }))[];
                    watchdog?: string | {
                        model: "i6300esb" | "itco";
                        action: "reset" | "poweroff" | "pause" | "none" | "shutdown" | "debug";
                    };
                    /** @description A virtio vsock (guest CID allocated, unique on the host); needs /dev/vhost-vsock (HOST_DEVICE_UNAVAILABLE). */
                    vsock?: boolean;
                    /** @description virtiofs shared folders (virtiofsd per share, started before QEMU). Outside the allowed roots: SHARE_PATH_NOT_ALLOWED. A VM with shares cannot be saved, migrated or snapshotted with memory (NOT_MIGRATABLE). */
                    shares?: (string | {
                        /** @description Mount tag in the guest (mount -t virtiofs TAG /mnt), 1-36 of letters, digits, _ . -. */
                        tag: string;
                        /** @description Host directory: absolute, inside a root the admin allows (daemon --share-root), symlinks resolved. */
                        source: string;
                        /** @description The guest cannot write (a read-only bind mount under virtiofsd). */
                        readOnly?: boolean;
                    })[];
                    /** @description Hyper-V enlightenments (Windows guests). */
                    hyperv?: boolean;
                    rtc?: "utc" | "localtime";
                    /** @description The placement group it joins (hangar group create): in a cluster, placement keeps its affinity or anti-affinity rule. */
                    group?: string;
                    /** @description Profiles applied in order, the VM's own fields last. */
                    profiles?: string[];
                    /** @description Instance type: small, medium, large, xlarge, or cN-mM (N vCPUs, M GiB); explicit cpus/memory win. */
                    type?: string;
                    /**
                     * @description file: guest RAM is a shared file in the data dir, so a warm template can be made of the running guest (`template create --from-vm`). Not with virtiofs shares, hugepages or NUMA nodes (MEMORY_BACKING_CONFLICT). Such a VM also gets a vmgenid device.
                     * @enum {string}
                     */
                    memoryBacking?: "file";
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Vm"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    cloneVm: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description VM name */
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description Name of the clone (a new VM). */
                    name: string;
                    /** @description Linked clone: the source's disks are frozen into read-only bases (a running source is paused for milliseconds) and the clone gets qcow2 overlays of them. Default: full, independent copies. */
                    linked?: boolean;
                    /** @description Start the clone once made. */
                    start?: boolean;
                    /** @description Host port forwards for the clone's user-mode NIC; the source's forwards are never copied (they would collide). */
                    forwards?: string[];
                    /** @description User labels: keys of 1-63 lower-case letters, digits, ".", "_", "/", "-" (starting and ending alphanumeric); values of at most 63 printable characters. INVALID_SPEC otherwise. */
                    labels?: {
                        [key: string]: string;
                    };
                    /** @description Free text about the VM (at most 1024 characters). */
                    description?: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        vm: components["schemas"]["Vm"];
                        source: string;
                        linked: boolean;
                        /** @description How long a running source was paused, in ms. */
                        pauseMs?: number;
                        /** @description How long the clone took in the daemon, in ms. */
                        durationMs: number;
                        /** @description Where the time went: ms from the start at the end of each step (checks, files, freeze, commit, volumes, record). */
                        steps?: {
                            [key: string]: number;
                        };
                    };
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    renameVm: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description VM name */
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description The new name. */
                    name: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Vm"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createImageFromVm: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description VM name */
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description Name of the new image (kind disk; VMs are created from it as linked clones). */
                    image: string;
                    description?: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Operation"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getVm: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description VM name */
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Vm"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    deleteVm: {
        parameters: {
            query?: {
                /** @description Stop a running VM first. */
                force?: "true" | "false";
            };
            header?: never;
            path: {
                /** @description VM name */
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    updateVm: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description VM name */
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description vCPUs: hot-plugged/unplugged live up to maxCpus of this run. */
                    cpus?: number;
                    /** @description Memory: balloon within the plugged size, pc-dimm hot-plug up to maxMemory. */
                    memory?: number | string;
                    /** @description From the next start. */
                    maxCpus?: number;
                    /** @description From the next start. */
                    maxMemory?: number | string;
                    cpuLimit?: (number | string) | (never | null);
                    /** @description 1-10000; null restores 100. */
                    cpuWeight?: number | null;
                    /** @description Per disk (device id or volume name): I/O limits; 0 or null lifts them. */
                    disks?: {
                        [key: string]: {
                            iops?: number | null;
                            bps?: (number | string) | (never | null);
                            /** @description I/O thread id (iothread0…) from the next start; null: round-robin. */
                            iothread?: string | null;
                        };
                    };
                    hugepages?: (boolean | string | {
                        sizeKiB: number;
                    }) | (never | null);
                    /** @description Guest NUMA nodes: their cpus cover vCPUs 0..maxCpus-1 exactly once; their memory adds up to memory. */
                    numa?: {
                        /** @description CPU list: "0-3,6", a number, or an array of numbers. */
                        cpus?: string | number | number[];
                        /** @description MiB, or a size such as "512M". */
                        memory: number | string;
                        /** @description CPU list: "0-3,6", a number, or an array of numbers. */
                        hostNodes?: string | number | number[];
                    }[] | null;
                    /** @description Host CPUs for vCPU threads, the emulator (QEMU's other threads) and I/O threads; host CPUs must be online. */
                    pin?: {
                        /** @description vCPU index → host CPUs. */
                        vcpus?: {
                            [key: string]: (string | number | number[]) | (never | null);
                        };
                        emulator?: (string | number | number[]) | (never | null);
                        iothreads?: (string | number | number[]) | (never | null);
                    };
                    /** @description I/O threads for virtio-blk disks (iothread0…); disks are assigned round-robin. */
                    iothreads?: number | null;
                    /** @description Host PCI devices passed through with VFIO: the host needs an IOMMU (HOST_NO_IOMMU) and the device's IOMMU group bound to vfio-pci (HOSTDEV_UNAVAILABLE). */
                    hostdevs?: {
                        /** @description Full PCI address, e.g. 0000:01:00.0. */
                        address: string;
                    }[] | null;
                    /** @description Start when the daemon starts (unless a user stopped it). */
                    autostart?: boolean;
                    /** @description Autostart sequence position (ascending). */
                    autostartOrder?: number;
                    /** @description Seconds to wait after starting it before the next autostart. */
                    autostartDelay?: number;
                    /** @description Restart policy: on-failure restarts crashes; always also guest power-offs. */
                    restart?: "no" | "on-failure" | "always";
                    /** @description At most this many automatic restarts per window (default 3). */
                    restartMax?: number;
                    /** @description The window in seconds (default 600). */
                    restartWindow?: number;
                    /** @description High availability (in a cluster): restarted on another node when its node is lost, once that node's fencer has killed it. Every disk must be on a shared pool. */
                    ha?: boolean;
                    /** @description HA restart order: higher first (default 0). */
                    haPriority?: number;
                    /** @description In a cluster, what `node evacuate` does with it: live-migrate (default), cold-migrate (stop, move, start again), or stop it where it is. */
                    evacuate?: "live" | "cold" | "stop";
                    /** @description Label edits: "k=v" sets, "k-" removes. */
                    labels?: string[];
                    /** @description A new description; "" or null clears it. */
                    description?: string | null;
                    /** @description The VM's new profile list (empty: none); the merged values are applied like other settings. */
                    profiles?: string[];
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        vm: components["schemas"]["Vm"];
                        changes: {
                            key: string;
                            value: unknown;
                            applied: "live" | "next-start";
                            note?: string;
                        }[];
                    };
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    startVm: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description VM name */
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description For a saved VM: discard the save and boot afresh instead of restoring it. */
                    fresh?: boolean;
                    /** @description Boot this start (only) from a device kind first: cdrom, disk or network; the stored boot order is kept. */
                    bootOnce?: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Vm"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    stopVm: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description VM name */
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description Stop at once (QMP quit, then SIGKILL) instead of ACPI powerdown. */
                    force?: boolean;
                    /** @description Seconds to wait after ACPI powerdown before forcing. Default 60. */
                    timeoutSeconds?: number;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Vm"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    restartVm: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description VM name */
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description Stop at once (QMP quit, then SIGKILL) instead of ACPI powerdown. */
                    force?: boolean;
                    /** @description Seconds to wait after ACPI powerdown before forcing. Default 60. */
                    timeoutSeconds?: number;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Vm"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    execInVm: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description VM name */
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description The command and its arguments (no shell). */
                    argv: string[];
                    /** @description Standard input. */
                    input?: string;
                    timeoutSeconds?: number;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        exitCode: number;
                        stdout: string;
                        stderr: string;
                        signal?: number;
                    };
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getVmGuestInfo: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description VM name */
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @description Whether qemu-guest-agent answers. */
                        agent: boolean;
                        os?: unknown;
                        interfaces?: unknown[];
                        ips: string[];
                    };
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    pauseVm: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description VM name */
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Vm"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    resumeVm: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description VM name */
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Vm"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getVmLogs: {
        parameters: {
            query?: {
                /** @description serial (default): the guest console; qemu: QEMU's own output. */
                source?: "serial" | "qemu";
                /** @description Byte offset to read from (for following). */
                offset?: string;
                /** @description Only the last N bytes. */
                tail?: string;
            };
            header?: never;
            path: {
                /** @description VM name */
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        data: string;
                        offset: number;
                        nextOffset: number;
                    };
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listPools: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Pool"][];
                };
            };
            /** @description Every error has this shape. */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createPool: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description Pool name (letters, digits, . _ -). */
                    name: string;
                    /** @description Absolute path of the directory. */
                    path: string;
                    /** @description The same directory is mounted on every node of the cluster (default false). */
                    shared?: boolean;
                    /** @description A shared pool whose disks the nodes reach only through the fencing NBD export at HOST:PORT (`hangar storage-export` on the storage host). Needs shared. */
                    export?: string;
                    /** @description In a cluster: the only nodes that have this directory (default: every node); placement puts VMs with disks here on them. Not with shared. */
                    nodes?: string[];
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Pool"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getPool: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                pool: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Pool"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listVolumes: {
        parameters: {
            query?: {
                pool?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Volume"][];
                };
            };
            /** @description Every error has this shape. */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createVolume: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description 1-100 letters, digits, . _ - (a file name inside the pool; no ".."). */
                    name: string;
                    /** @description Default `default`. */
                    pool?: string;
                    /** @description Bytes as a number, or a size such as "4G" or "512M". */
                    size: number | string;
                    /** @description Default qcow2. */
                    format?: "qcow2" | "raw";
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Volume"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getVolume: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                pool: string;
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Volume"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    deleteVolume: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                pool: string;
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    resizeVolume: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                pool: string;
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description Bytes as a number, or a size such as "4G" or "512M". */
                    size: number | string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Volume"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    cloneVolume: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                pool: string;
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description Name of the copy (same pool). */
                    name: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Operation"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    attachDisk: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description VM name */
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    volume: string;
                    /** @description Default `default`. */
                    pool?: string;
                    readOnly?: boolean;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Vm"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    detachDisk: {
        parameters: {
            query?: {
                pool?: string;
            };
            header?: never;
            path: {
                name: string;
                volume: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Vm"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listOperations: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Operation"][];
                };
            };
            /** @description Every error has this shape. */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getOperation: {
        parameters: {
            query?: {
                /** @description Wait up to this many seconds for the operation to end. */
                wait?: string;
            };
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Operation"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    cancelOperation: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Operation"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listSnapshots: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description VM name */
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Snapshot"][];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createSnapshot: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description VM name */
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description 1-100 letters, digits, . _ - */
                    name: string;
                    /** @description Also save memory and device state (running guests). Returns 202 with an operation. */
                    memory?: boolean;
                    description?: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Snapshot"];
                };
            };
            /** @description Default Response */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Operation"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    revertSnapshot: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
                snapshot: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Snapshot"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    deleteSnapshot: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
                snapshot: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listBackupRepos: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BackupRepo"][];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createBackupRepo: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description 1-100 letters, digits, . _ - */
                    name: string;
                    /** @description Absolute path of an empty or new directory. */
                    path: string;
                    encrypt?: boolean;
                    /** @description Absolute path of a file holding at least 32 secret bytes (with encrypt). */
                    keyFile?: string;
                    /** @description Make it the default repository (the first one is). */
                    default?: boolean;
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BackupRepo"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    deleteBackupRepo: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                repo: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listBackups: {
        parameters: {
            query?: {
                vm?: string;
                repo?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Backup"][];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createBackup: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description VM name */
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description The repository (default: the default one). */
                    repo?: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Operation"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    restoreBackup: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description The new VM's name (a new identity: UUID, MACs, hostname). Default: the backed-up VM's name, if no VM has it. */
                    as?: string;
                    repo?: string;
                    /** @description Restore only this disk (its id, e.g. disk1) into a new, unattached volume; the operation's result is the volume. */
                    disk?: string;
                    /** @description The new volume's name (with disk; default <vm>-<disk>-<backup time>). */
                    volume?: string;
                    /** @description Start the new VM at once: what it reads first comes from the backup, the rest is copied in the background (the operation ends when the copy does). */
                    live?: boolean;
                    /** @description Restore in place: the backed-up VM (stopped) gets the backup's disks, NVRAM and TPM state; its configuration stays. */
                    yes?: boolean;
                };
            };
        };
        responses: {
            /** @description Default Response */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Operation"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    pruneBackups: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description Only this VM's backups (default: every VM's, each pruned on its own). */
                    vm?: string;
                    repo?: string;
                    keepLast?: number;
                    keepDaily?: number;
                    keepWeekly?: number;
                    keepMonthly?: number;
                    /** @description Only say what would be removed. */
                    dryRun?: boolean;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        kept: components["schemas"]["Backup"][];
                        removed: components["schemas"]["Backup"][];
                    };
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    verifyBackupRepo: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                repo: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Operation"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    collectBackupRepoGarbage: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                repo: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        repo: string;
                        removedChunks: number;
                        freedBytes: number;
                        keptChunks: number;
                    };
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listBackupSchedules: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BackupSchedule"][];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    setBackupSchedule: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    vm: string;
                    /** @description A period: Nm, Nh, Nd or Nw (e.g. 6h, 1d, 7d); at least 1m. */
                    every: string;
                    /** @description HH:MM, UTC: runs fall on this time of day (with every 6h at 02:00: 02:00, 08:00, 14:00, 20:00). Default: one period after the schedule is made. */
                    at?: string;
                    /** @description The repository (default: the default one, when the schedule is made). */
                    repo?: string;
                    /** @description After each run, keep the newest N backups of the VM in the repository… */
                    keepLast?: number;
                    /** @description …then the newest of each of N days… */
                    keepDaily?: number;
                    /** @description …then the newest of each of N weeks… */
                    keepWeekly?: number;
                    /** @description …then the newest of each of N months (Proxmox Backup Server's rule); none: keep every backup. */
                    keepMonthly?: number;
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BackupSchedule"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    deleteBackupSchedule: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vm: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    exportVm: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description VM name */
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description Absolute path of the archive the daemon writes (a tar file). */
                    file: string;
                    /** @description Replace the file if it exists. */
                    force?: boolean;
                    /** @description Compress the disks (qcow2 compression: smaller, slower). */
                    compress?: boolean;
                };
            };
        };
        responses: {
            /** @description Default Response */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Operation"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    importVm: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description Absolute path of an archive `vm export` wrote, on the daemon's host. */
                    file: string;
                    /** @description The new VM's name (a new identity: UUID, MACs, hostname). Default: the exported VM's name, if no VM has it. */
                    as?: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Operation"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    insertMedia: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description VM name */
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description The ISO image to insert (kind iso). */
                    image: string;
                    /** @description CD-ROM drive id (cd0…); optional when the VM has exactly one. */
                    drive?: string;
                    /** @description Open the tray even if the guest locked it. */
                    force?: boolean;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Vm"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    ejectMedia: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description VM name */
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description CD-ROM drive id (cd0…); optional when the VM has exactly one. */
                    drive?: string;
                    /** @description Open the tray even if the guest locked it. */
                    force?: boolean;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Vm"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    saveVm: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description VM name */
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description Cap in bytes per second for writing the save (default: none; QEMU's own 128 MiB/s cap is lifted). */
                    maxBandwidth?: number;
                };
            };
        };
        responses: {
            /** @description Default Response */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Operation"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    discardSavedState: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description VM name */
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Vm"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listPeers: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Peer"][];
                };
            };
            /** @description Every error has this shape. */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    addPeer: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    name: string;
                    /** @description The peer daemon's TLS listener, https://host:port. */
                    url: string;
                    /** @description An admin API token of the peer daemon. Stored here, never shown again. */
                    token: string;
                    /** @description SHA-256 of the peer's certificate; without it the one it presents now is pinned. */
                    fingerprint?: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Peer"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getPeer: {
        parameters: {
            query?: {
                check?: boolean;
            };
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Peer"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    removePeer: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    migrateVm: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description VM name */
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description The peer (hangar peer add) to move the guest to. Give `to` or `node`. */
                    to?: string;
                    /** @description In a cluster: the node to move the VM to (same record, its node changes at the hand-over; a stopped VM moves cold). Give `to` or `node`. */
                    node?: string;
                    /** @description With node: what asked for the move, recorded in the VM's lastMove (default migrate; node evacuate and node restore set theirs). */
                    reason?: "migrate" | "evacuation" | "restore";
                    /** @description Cap in bytes per second (default: none; QEMU's own 128 MiB/s cap is lifted). */
                    maxBandwidth?: number;
                    /** @description Longest pause allowed for the last copy (default 50 ms). */
                    downtimeLimitMs?: number;
                    /** @description Parallel TCP streams for memory (default 1). */
                    multifdChannels?: number;
                    /** @description Slow the vCPUs of a guest that dirties memory faster than it is sent (default true). */
                    autoConverge?: boolean;
                    /** @description off (default); on: switch to post-copy after the first pass; auto: when pre-copy does not converge. */
                    postcopy?: "off" | "on" | "auto";
                    /** @description Compress the multifd streams (needs multifdChannels ≥ 2); helps only on slow links. */
                    compression?: "none" | "zlib" | "zstd";
                    /** @description Copy the writable disks to the destination (local storage) over NBD while the guest runs. Default: shared storage (the same paths on both hosts). */
                    copyStorage?: boolean;
                    /** @description Give up and roll back after this long (default 600). */
                    timeoutSeconds?: number;
                };
            };
        };
        responses: {
            /** @description Default Response */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Operation"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    prepareIncomingMigration: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description Sent by a source daemon (admin token): the VM arriving and how it comes. */
        requestBody: {
            content: {
                "application/json": {
                    id: string;
                    vm: {
                        id: string;
                        name: string;
                        spec: {
                            [key: string]: unknown;
                        };
                        createdAt: string;
                    };
                    paused: boolean;
                    params: {
                        maxBandwidth: number;
                        downtimeLimitMs: number;
                        autoConverge: boolean;
                        multifdChannels: number;
                        postcopy: boolean;
                        zeroBlocks?: boolean;
                        pauseBeforeSwitchover?: boolean;
                        lateBlockActivate?: boolean;
                        compression?: "none" | "zlib" | "zstd";
                    };
                    copyDisks: {
                        id: string;
                        sizeBytes: number;
                        format: "qcow2" | "raw";
                        pool?: string;
                        volume?: string;
                    }[];
                    /** @description UEFI with copied storage: make a new NVRAM volume here (its content comes in the migration stream). */
                    copyNvram?: boolean;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        id: string;
                        uri: string;
                        nbd?: {
                            host: string;
                            port: number;
                        };
                    };
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    finishIncomingMigration: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        vm: components["schemas"]["Vm"];
                        /** @description From the finish request's arrival until the guest's vCPUs were let go here. */
                        resumeMs: number;
                    };
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    abortIncomingMigration: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    resetNvram: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description VM name */
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Vm"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    attachNic: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description VM name */
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description The managed network to put the NIC on. */
                    network: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Vm"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    detachNic: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
                nic: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Vm"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listNetworks: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Network"][];
                };
            };
            /** @description Every error has this shape. */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createNetwork: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description Network name (letters, digits, -). */
                    name: string;
                    /** @description IPv4 CIDR, /16 to /29, e.g. 10.77.0.0/24. */
                    subnet: string;
                    /** @description Masquerade guests out through the host. */
                    nat?: boolean;
                    /** @description No forwarding out of the network (and only DHCP/DNS to the host). */
                    isolated?: boolean;
                    /** @description Enslave this host interface: guests sit on its LAN (no DHCP/NAT of ours). */
                    parent?: string;
                    /** @description Network boot: an existing directory (absolute path) the network's dnsmasq serves read-only over TFTP at the gateway address; world-readable files (dnsmasq serves as nobody). */
                    tftpRoot?: string;
                    /** @description Network boot: the file DHCP names to clients (PXE/iPXE), a relative path under the TFTP root such as pxelinux.0 or boot.ipxe. Needs tftpRoot or bootServer. */
                    bootFile?: string;
                    /** @description Network boot: IPv4 address of another TFTP server holding bootFile (default: this network's gateway). */
                    bootServer?: string;
                    /** @description In a cluster: the only nodes that have this network (default: every node); placement puts VMs with a NIC on it on them. */
                    nodes?: string[];
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Network"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getNetwork: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Network"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    deleteNetwork: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listProjects: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Project"][];
                };
            };
            /** @description Every error has this shape. */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createProject: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    name: string;
                    description?: string;
                    /** @description At most this many VMs; null lifts it. */
                    maxVms?: number | null;
                    /** @description At most this many vCPUs over its VMs. */
                    maxCpus?: number | null;
                    /** @description At most this much memory over its VMs, e.g. "8G". */
                    maxMemory?: number | string | (never | null);
                    /** @description At most this much disk over its VMs volumes, e.g. "100G". */
                    maxDisk?: number | string | (never | null);
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Project"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getProject: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Project"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    deleteProject: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    updateProject: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description At most this many VMs; null lifts it. */
                    maxVms?: number | null;
                    /** @description At most this many vCPUs over its VMs. */
                    maxCpus?: number | null;
                    /** @description At most this much memory over its VMs, e.g. "8G". */
                    maxMemory?: number | string | (never | null);
                    /** @description At most this much disk over its VMs volumes, e.g. "100G". */
                    maxDisk?: number | string | (never | null);
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Project"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listInstanceTypes: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        name: string;
                        cpus: number;
                        /** @description MiB */
                        memory: number;
                    }[];
                };
            };
            /** @description Every error has this shape. */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listProfiles: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Profile"][];
                };
            };
            /** @description Every error has this shape. */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createProfile: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    name: string;
                    description?: string;
                    /** @description Settings, by the names of vm create / vm set. cpus, memory, maxCpus, maxMemory, cpuLimit, cpuWeight, labels, ha, haPriority, autostart and restart re-apply to the VMs that use the profile; the others apply to new VMs. */
                    settings?: {
                        /** @description vCPUs. */
                        cpus?: number;
                        /** @description MiB, or a size such as "2G" (stored in MiB). */
                        memory?: number | string;
                        /** @description vCPU hot-plug ceiling. */
                        maxCpus?: number;
                        /** @description Memory hot-plug ceiling. */
                        maxMemory?: number | string;
                        /** @description Percent of one host CPU, e.g. 150 or "150%". */
                        cpuLimit?: number | string;
                        /** @description 1-10000. */
                        cpuWeight?: number;
                        /** @description Labels, merged key by key over the profiles (the VM's own last). */
                        labels?: {
                            [key: string]: string;
                        };
                        ha?: boolean;
                        haPriority?: number;
                        autostart?: boolean;
                        restart?: "no" | "on-failure" | "always";
                        /** @description New VMs only. */
                        cpuModel?: string;
                        machine?: "q35" | "pc" | "microvm";
                        diskBus?: "virtio-blk" | "virtio-scsi" | "sata" | "nvme";
                        diskCache?: "none" | "writeback" | "writethrough" | "directsync" | "unsafe";
                        nicModel?: "virtio" | "e1000e" | "rtl8139";
                        /** @description Managed networks (new VMs only). */
                        networks?: string[];
                        /** @description cloud-init user (new VMs only). */
                        user?: string;
                        /** @description cloud-init public key lines (new VMs only). */
                        sshKeys?: string[];
                    };
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Profile"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getProfile: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Profile"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    deleteProfile: {
        parameters: {
            query?: {
                /** @description Detach it from the VMs that use it (they keep its values as their own). */
                force?: "true" | "false";
            };
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        detached: string[];
                    };
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    updateProfile: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    description?: string | null;
                    /** @description Settings to change; null removes one. */
                    settings?: {
                        /** @description vCPUs. */
                        cpus?: number | null;
                        memory?: (number | string) | (never | null);
                        /** @description vCPU hot-plug ceiling. */
                        maxCpus?: number | null;
                        maxMemory?: (number | string) | (never | null);
                        cpuLimit?: (number | string) | (never | null);
                        /** @description 1-10000. */
                        cpuWeight?: number | null;
                        /** @description Labels, merged key by key over the profiles (the VM's own last). */
                        labels?: {
                            [key: string]: string;
                        } | null;
                        ha?: boolean | null;
                        haPriority?: number | null;
                        autostart?: boolean | null;
                        restart?: ("no" | "on-failure" | "always") | (never | null);
                        /** @description New VMs only. */
                        cpuModel?: string | null;
                        machine?: ("q35" | "pc" | "microvm") | (never | null);
                        diskBus?: ("virtio-blk" | "virtio-scsi" | "sata" | "nvme") | (never | null);
                        diskCache?: ("none" | "writeback" | "writethrough" | "directsync" | "unsafe") | (never | null);
                        nicModel?: ("virtio" | "e1000e" | "rtl8139") | (never | null);
                        /** @description Managed networks (new VMs only). */
                        networks?: string[] | null;
                        /** @description cloud-init user (new VMs only). */
                        user?: string | null;
                        /** @description cloud-init public key lines (new VMs only). */
                        sshKeys?: string[] | null;
                    };
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        profile: components["schemas"]["Profile"];
                        /** @description Each VM that uses the profile and what re-applying it changed. */
                        vms: {
                            vm: string;
                            state: string;
                            changes: {
                                key: string;
                                value: unknown;
                                applied: "live" | "next-start";
                                note?: string;
                            }[];
                            /** @description Settings the running guest has now. */
                            live: string[];
                            /** @description Settings stored for its next start. */
                            nextStart: string[];
                            /** @description Create-time settings that changed: this VM keeps its own. */
                            createOnly: string[];
                            /** @description Why this VM could not take the change (it keeps what it had). */
                            error?: string;
                        }[];
                    };
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listTemplates: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Template"][];
                };
            };
            /** @description Every error has this shape. */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createTemplate: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description Template name: letters, digits, hyphens; starts with a letter. */
                    name: string;
                    /** @description A running VM created with memoryBacking file, its guest agent answering (and cloud-init done when it has cloud-init). It is paused while its state and files are copied, then goes on. */
                    fromVm: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Template"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getTemplate: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Template"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    deleteTemplate: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    cloneFromTemplate: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description Name of the clone; with count, the clones are NAME-1…NAME-N. */
                    name: string;
                    /** @description How many clones (default 1). */
                    count?: number;
                    /** @description cloud-init user data applied in each clone once its identity is in place, before it is ready: a #! script (run as root), or #cloud-config with keys bootcmd, write_files, users, groups, timezone, ca_certs, apt, packages, package_update, package_upgrade, runcmd, final_message (each module run again for the clone). A failure removes the clones (CLONE_USER_DATA_FAILED). */
                    userData?: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        template: string;
                        vms: components["schemas"]["Vm"][];
                        timings: {
                            vm: string;
                            /** @description Request → the clones' records and overlay disks exist (all clones of the request). */
                            createdMs: number;
                            /** @description Request → its QEMU answers QMP (started with -incoming defer; clones started together take turns to map the template's memory file). */
                            qemuMs: number;
                            /** @description Request → the clone's guest runs (its state loaded). */
                            runningMs: number;
                            /** @description Request → its identity is in place (the guest agent ran the identity step; its link still down). */
                            identityMs: number;
                            /** @description Request → its link is up with its new identity and its network restarted for a fresh DHCP lease: the clone is ready. */
                            readyMs: number;
                            /** @description What the guest did to take its identity. */
                            steps: string[];
                        }[];
                    };
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listTokens: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Token"][];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createToken: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description 1-63 letters, digits, ".", "_" or "-", starting with a letter; unique. */
                    name: string;
                    /** @description viewer: reads (GET) and the event stream; operator: also VM lifecycle and VM, volume and snapshot changes; admin: everything. */
                    role: "viewer" | "operator" | "admin";
                    /** @description Confine the token to this project (viewer or operator only). */
                    project?: string;
                    /** @description Lifetime, e.g. 12h, 30d or 2w. No expiry when absent. */
                    expires?: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @description The public part of the token (hgr_<id>_…): safe to log and show. */
                        id: string;
                        name: string;
                        /** @description viewer: reads (GET) and the event stream; operator: also VM lifecycle and VM, volume and snapshot changes; admin: everything. */
                        role: "viewer" | "operator" | "admin";
                        /** @description Confined to this project: sees and touches only its VMs, volumes and snapshots. */
                        project?: string;
                        createdAt: string;
                        expiresAt?: string;
                        /** @description Updated at most once a minute. */
                        lastUsedAt?: string;
                        expired: boolean;
                        /** @description The whole bearer token, hgr_<id>_<secret>: shown once, only its hash is kept. */
                        token: string;
                    };
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    revokeToken: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Token name or id */
                token: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createConsoleToken: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description VM name */
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description Which console the token opens. */
                    type: "serial" | "vnc" | "spice";
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @description Single use, valid 60 s, for this VM and console type only. */
                        token: string;
                        vm: string;
                        type: string;
                        expiresAt: string;
                        /** @description The WebSocket path to open, token included (serial: /v1/vms/{name}/console?token=…, vnc: /v1/vms/{name}/vnc?token=…, spice: /v1/vms/{name}/spice?token=…). */
                        path: string;
                    };
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getCluster: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ClusterStatus"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    initCluster: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description etcd client URLs (http(s)://HOST:PORT), a list or comma-separated. */
                    etcd: string | string[];
                    /** @description This node's name (default: the host name). 1-63 lower-case letters, digits and -. */
                    name?: string;
                    /** @description The node's lease TTL in seconds (2-300, default 10): how long etcd keeps it online after its last keep-alive. */
                    leaseTtl?: number;
                    /** @description Seconds between a node's lease keep-alives (0.2 to TTL/2; default TTL/3). */
                    keepalive?: number;
                    /** @description Seconds before its lease's deadline at which a node's fencer kills its HA guests (0.2 to TTL/2; default 1). */
                    fenceMargin?: number;
                    /** @description Seconds the other nodes wait after a lease expired before restarting its HA VMs (0-600; default 2). */
                    haGrace?: number;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ClusterStatus"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createJoinToken: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description The name the new node will have. */
                    node: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        node: string;
                        /** @description hjt1.…: single use, valid an hour; give it to `hangar cluster join` on the new host. */
                        token: string;
                        expiresAt: string;
                    };
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    joinCluster: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description The token `hangar cluster add NODE` printed on a member. */
                    token: string;
                    /** @description Must match the token's node name when given. */
                    name?: string;
                    /** @description This node's etcd endpoints, comma-separated (default: the token's, those of the node that made it). */
                    etcd?: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ClusterStatus"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    explainPlacement: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description vCPUs (default 1). */
                    cpus?: number;
                    /** @description MiB, or a size such as "2G" (default 256 MiB). */
                    memory?: number | string;
                    /** @description A node name, or @label / @label=value. */
                    target?: string;
                    /** @description The placement group the VM would join: its rule is a filter (hard) or a weight (soft). */
                    group?: string;
                    /** @description The pool of its disks (default: default): a node must have it. */
                    pool?: string;
                    /** @description The networks of its NICs: a node must have each. */
                    networks?: string[];
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        chosen?: string;
                        lines: {
                            node: string;
                            eligible: boolean;
                            /** @description Why it was ruled out, or what it has free. */
                            reasons: string[];
                            /** @description The sum of the weights; the highest wins. */
                            score?: number;
                            weights?: {
                                /** @description 0-1: the share of vCPUs and memory left free after the VM lands (equal weights). */
                                capacity: number;
                                /** @description A soft group's term: anti-affinity -1 per member on the node, affinity +1 per member. */
                                group?: number;
                            };
                            freeCpus: number;
                            freeMemoryMiB: number;
                        }[];
                    };
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    removeNode: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                node: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    updateNode: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                node: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description Labels to set; null removes one. */
                    labels: {
                        [key: string]: string | null;
                    };
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Node"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listNodes: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Node"][];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listGroups: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PlacementGroup"][];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createGroup: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description 1-63 letters, digits or hyphens, starting with a letter. */
                    name: string;
                    /** @description affinity: the members on one node; anti-affinity: each member on a node of its own. */
                    policy: "affinity" | "anti-affinity";
                    /** @description hard (default): a node that breaks the rule is ruled out, and a create no node satisfies fails with PLACEMENT_IMPOSSIBLE; soft: only a weight in the score (the rule is kept when it can be). */
                    enforcement?: "hard" | "soft";
                    description?: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PlacementGroup"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getGroup: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                group: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PlacementGroup"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    deleteGroup: {
        parameters: {
            query?: {
                /** @description Delete it even with members: they leave the group (the rule is dropped; no VM moves). */
                force?: "true" | "false";
            };
            header?: never;
            path: {
                group: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    addGroupMember: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                group: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description The VM to join to the group (a VM is in one group at most). */
                    vm: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PlacementGroup"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    removeGroupMember: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                group: string;
                vm: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PlacementGroup"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listHooks: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Hook"][];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createHook: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description 1-63 letters, digits or hyphens, starting with a letter. */
                    name: string;
                    /** @description Where events are POSTed: http:// or https:// (the certificate is verified). */
                    url: string;
                    /** @description Event names (vm.state) or globs with * (backup.*, vm.*, *): the EventType schema lists the names. */
                    events: string[];
                    /** @description Signs each delivery: X-Hangar-Signature: sha256=<hex HMAC-SHA256 of the raw body>. Never shown again. */
                    secret?: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Hook"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getHook: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Hook"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    deleteHook: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    shutdownGuests: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description stop (default): ACPI powerdown of every guest at once, forced off after the timeout; save: each saved to a file (restored at the next daemon start), a guest whose save fails is shut down as in stop. */
                    mode?: "stop" | "save";
                    /** @description stop: how long the guests have to power off before they are forced (default 120). save: how long the saves may take in all; a guest not saved by then is shut down, with this timeout again. */
                    timeoutSeconds?: number;
                    /** @description save: how many saves run at once (default 4). */
                    parallel?: number;
                };
            };
        };
        responses: {
            /** @description Default Response */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Operation"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    startGuests: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Operation"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    importLibvirtDomain: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description The domain XML, as `virsh dumpxml NAME` writes it (at most 1 MiB; DTDs and entities are refused). */
                    xml: string;
                    /** @description Leave out what Hangar cannot carry over (listed in the reply) instead of refusing with IMPORT_UNSUPPORTED. */
                    ignoreUnsupported?: boolean;
                    /** @description Use the disk files where they are: their folder becomes a pool (or the pool that is that folder is used); deleting the VM leaves them. Default: each disk is copied into a pool. */
                    inPlace?: boolean;
                    /** @description Copies: the pool they go to (default: default). In place: the name of the pool made for the files' folder. */
                    pool?: string;
                    /** @description The VM's name (default: the domain's). */
                    name?: string;
                    /** @description Check everything and report; make nothing. */
                    dryRun?: boolean;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        vm?: components["schemas"]["Vm"];
                        /** @description What was left out (with ignoreUnsupported). */
                        unsupported: {
                            /** @description Where in the domain XML, XPath-like: /domain/devices/hostdev[1]. */
                            path: string;
                            reason: string;
                        }[];
                        disks: {
                            /** @description The libvirt target device (vda, sdb…). */
                            target: string;
                            /** @description The file libvirt used. */
                            source: string;
                            /** @description The file the VM uses. */
                            path: string;
                            copied: boolean;
                            pool?: string;
                            volume?: string;
                        }[];
                        poolsCreated: string[];
                        dryRun: boolean;
                    };
                };
            };
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        vm?: components["schemas"]["Vm"];
                        /** @description What was left out (with ignoreUnsupported). */
                        unsupported: {
                            /** @description Where in the domain XML, XPath-like: /domain/devices/hostdev[1]. */
                            path: string;
                            reason: string;
                        }[];
                        disks: {
                            /** @description The libvirt target device (vda, sdb…). */
                            target: string;
                            /** @description The file libvirt used. */
                            source: string;
                            /** @description The file the VM uses. */
                            path: string;
                            copied: boolean;
                            pool?: string;
                            volume?: string;
                        }[];
                        poolsCreated: string[];
                        dryRun: boolean;
                    };
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    evacuateNode: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                node: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Operation"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    restoreNode: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                node: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description Only re-enable the node; bring no VM back. */
                    skip?: boolean;
                };
            };
        };
        responses: {
            /** @description Default Response */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Operation"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    checkClusterMove: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    vm: string;
                    /** @description Files the VM opens (disks, NVRAM, boot files): each must exist on this node. */
                    paths: string[];
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        ok?: boolean;
                    };
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    prepareIncomingClusterMove: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    id: string;
                    vm: string;
                    vmId: string;
                    from: string;
                    paused: boolean;
                    params: {
                        maxBandwidth: number;
                        downtimeLimitMs: number;
                        autoConverge: boolean;
                        multifdChannels: number;
                        postcopy: boolean;
                        zeroBlocks?: boolean;
                        pauseBeforeSwitchover?: boolean;
                        lateBlockActivate?: boolean;
                        compression?: "none" | "zlib" | "zstd";
                    };
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @description Where the arriving QEMU listens for the migration stream. */
                        uri: string;
                    };
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    finishIncomingClusterMove: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @description From the request until the guest ran here. */
                        resumeMs: number;
                    };
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    abortIncomingClusterMove: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getPrometheusMetrics: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Prometheus text exposition format 0.0.4 (text/plain; version=0.0.4). VM series: hangar_vm_*; host: hangar_host_*; the sampler: hangar_metrics_sampler_*; API: hangar_api_*; the daemon process: process_* and nodejs_*. Each metric's HELP line says what it counts. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/plain": string;
                };
            };
            /** @description Every error has this shape. */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/plain": components["schemas"]["Error"];
                };
            };
        };
    };
    getVmMetrics: {
        parameters: {
            query?: {
                /** @description Only samples from this time on: an ISO 8601 time, unix milliseconds, or an age such as 90s, 15m or 1h. Default: all kept (the last hour at the default settings). */
                since?: string;
            };
            header?: never;
            path: {
                /** @description VM name */
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        vm: string;
                        /** @description Seconds between samples (0: sampling is off). */
                        intervalSeconds: number;
                        /** @description How far back samples are kept. */
                        historySeconds: number;
                        /** @description Oldest first. */
                        samples: components["schemas"]["MetricsPoint"][];
                    };
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    importOvf: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description Absolute path on the daemon's host of an .ova archive, or of an .ovf descriptor with its disk files (and .mf manifest) beside it. DTDs and entities in the descriptor are refused. */
                    file: string;
                    /** @description The VM's name (default: the appliance's, made a valid name). */
                    name?: string;
                    /** @description The pool its disks go to (default: default). */
                    pool?: string;
                    /** @description A managed network every NIC goes on (default: user-mode NICs). */
                    network?: string;
                    /** @description Leave out the hardware Hangar cannot carry over (listed in the result) instead of refusing with OVF_UNSUPPORTED. */
                    ignoreUnsupported?: boolean;
                    /** @description Check and answer the plan at once (200); convert and make nothing. */
                    dryRun?: boolean;
                };
            };
        };
        responses: {
            /** @description The plan (dry run), or the operation's result. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        vm?: components["schemas"]["Vm"];
                        name: string;
                        cpus: number;
                        memoryMiB: number;
                        /** @description bios or uefi */
                        firmware: string;
                        disks: {
                            diskId: string;
                            bus: string;
                            /** @description The disk file in the appliance (absent: a blank disk). */
                            source?: string;
                            pool: string;
                            volume: string;
                            sizeBytes: number;
                        }[];
                        nics: {
                            id: string;
                            model: string;
                            mac: string;
                            macFromOvf: boolean;
                            network?: string;
                        }[];
                        /** @description What was left out (with ignoreUnsupported). */
                        unsupported: {
                            /** @description Where in the descriptor, e.g. VirtualHardwareSection/Item[InstanceID=7] "Sound Card". */
                            path: string;
                            reason: string;
                        }[];
                        /** @description What was carried over differently or is informational only (OS type, NIC model changes, graphics…). */
                        notes: {
                            /** @description Where in the descriptor, e.g. VirtualHardwareSection/Item[InstanceID=7] "Sound Card". */
                            path: string;
                            reason: string;
                        }[];
                        dryRun: boolean;
                    };
                };
            };
            /** @description Default Response */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Operation"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listAuditRecords: {
        parameters: {
            query?: {
                /** @description Only entries with seq greater than this (oldest first); without it, the last `limit` entries. */
                after?: string;
                /** @description At most this many (default 100, at most 10000). */
                limit?: string;
                /** @description Only calls concerning this VM. */
                vm?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AuditEntry"][];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listImages: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Image"][];
                };
            };
            /** @description Every error has this shape. */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    importImage: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description Image name (letters, digits, . _ -). */
                    name: string;
                    /** @description http(s) URL to download (resumable where the server allows). */
                    url?: string;
                    /** @description Absolute path of a file on the daemon host. */
                    file?: string;
                    /** @description Expected SHA-256 of the file as downloaded; required for URLs unless allowUnverified. */
                    sha256?: string;
                    allowUnverified?: boolean;
                    description?: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Operation"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getImage: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Image"];
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    deleteImage: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listEvents: {
        parameters: {
            query?: {
                /** @description Keep the connection open as a server-sent event stream. */
                follow?: "true" | "false";
                /** @description Only events with seq greater than this. */
                after?: string;
                vm?: string;
                limit?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Event"][];
                };
            };
            /** @description Every error has this shape. */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getSpiceConnectionFile: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description VM name */
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The connection file (open it with `remote-viewer FILE`; it deletes itself once read). */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/x-virt-viewer": string;
                };
            };
            /** @description Every error has this shape. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Every error has this shape. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
}
