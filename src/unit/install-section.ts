// The typed [Install] section. sockunit has no `enable`, but verify checks these names and show
// prints them, so a unit written for systemd reads the same here.

export interface InstallSection {
  wantedBy: string[];
  requiredBy: string[];
  upheldBy: string[];
  also: string[];
  alias: string[];
  defaultInstance: string;
}

export function defaultInstallSection(): InstallSection {
  return { wantedBy: [], requiredBy: [], upheldBy: [], also: [], alias: [], defaultInstance: '' };
}
