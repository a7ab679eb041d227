# Installs the IIS URL Rewrite module from the internal package repository.
# The server downloads the repository's manifest.json and the MSI itself;
# the MSI is run only when its size and SHA256 match the manifest and its
# Authenticode signature is valid and from an accepted signer. Then msiexec
# installs it quietly and the module is detected again (rewrite.dll version),
# because msiexec's exit code alone does not prove the module loads.
param($HostArgs)

function Get-RewriteModuleVersion {
    $module = Join-Path -Path $env:windir -ChildPath 'System32\inetsrv\rewrite.dll'
    if (-not (Test-Path -LiteralPath $module)) {
        return $null
    }
    $info = (Get-Item -LiteralPath $module).VersionInfo
    '{0}.{1}.{2}' -f $info.FileMajorPart, $info.FileMinorPart, $info.FileBuildPart
}

$baseUrl = [string]$HostArgs.repository_url
$package = [string]$HostArgs.package
$minimum = [version][string]$HostArgs.min_version
$signers = @($HostArgs.signers | ForEach-Object { [string]$_ })
if ($baseUrl -notmatch '^https?://') {
    throw ('repository_url must be an http(s) URL, not ''{0}''.' -f $baseUrl)
}
# The name becomes a file name and an msiexec argument: allow nothing else.
if ($package -notmatch '^[A-Za-z0-9._-]+\.msi$') {
    throw ('package ''{0}'' must be a plain .msi file name.' -f $package)
}
if (-not $baseUrl.EndsWith('/')) {
    $baseUrl += '/'
}
[Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12
$ProgressPreference = 'SilentlyContinue'
$work = Join-Path -Path $env:windir -ChildPath 'Temp\onprem.exchange'
New-Item -Path $work -ItemType Directory -Force | Out-Null
$msi = Join-Path -Path $work -ChildPath $package
$log = Join-Path -Path $work -ChildPath 'UrlRewriteInstall.log'
$steps = @()
$before = Get-RewriteModuleVersion

$manifest = (Invoke-WebRequest -Uri ($baseUrl + 'manifest.json') -UseBasicParsing -ErrorAction Stop).Content | ConvertFrom-Json
$entry = @($manifest.files) | Where-Object { $_.name -eq $package } | Select-Object -First 1
if ($null -eq $entry) {
    throw ('Package {0} is not in the repository manifest {1}manifest.json.' -f $package, $baseUrl)
}
Invoke-WebRequest -Uri ($baseUrl + [uri]::EscapeDataString($package)) -OutFile $msi -UseBasicParsing -ErrorAction Stop
$size = (Get-Item -LiteralPath $msi).Length
$digest = (Get-FileHash -LiteralPath $msi -Algorithm SHA256).Hash.ToLowerInvariant()
$steps += [ordered]@{ step = 'download'; size = $size; sha256 = $digest }
if ($size -ne [long]$entry.size -or $digest -ne ([string]$entry.sha256).ToLowerInvariant()) {
    Remove-Item -LiteralPath $msi -Force
    throw ('Verification failed for {0}: size {1}, SHA256 {2}; the manifest says size {3}, SHA256 {4}. The file was deleted and nothing was installed.' -f $package, $size, $digest, $entry.size, $entry.sha256)
}
$signature = Get-AuthenticodeSignature -FilePath $msi
$signer = $null
if ($null -ne $signature.SignerCertificate) {
    $signer = [string]$signature.SignerCertificate.Subject
}
if ([string]$signature.Status -ne 'Valid' -or $signers -notcontains $signer) {
    Remove-Item -LiteralPath $msi -Force
    throw ('The Authenticode signature of {0} is {1} with signer ''{2}'', which is not an accepted signer. Nothing was installed.' -f $package, [string]$signature.Status, $signer)
}
$steps += [ordered]@{ step = 'verify'; sha256 = $digest; signer = $signer; ok = $true }
$process = Start-Process -FilePath 'msiexec.exe' -ArgumentList @('/i', ('"{0}"' -f $msi), '/quiet', '/norestart', '/log', ('"{0}"' -f $log)) -Wait -PassThru
# 3010: installed, a restart is needed to finish.
if ($process.ExitCode -ne 0 -and $process.ExitCode -ne 3010) {
    throw ('msiexec.exe /i {0} /quiet /norestart ended with exit code {1}; see the installer log {2}.' -f $package, $process.ExitCode, $log)
}
$steps += [ordered]@{ step = 'msiexec'; exit_code = $process.ExitCode }
$after = Get-RewriteModuleVersion
if ($null -eq $after -or [version]$after -lt $minimum) {
    throw ('After installing {0} the URL Rewrite module reports version {1}, below the required {2}.' -f $package, $after, $minimum)
}
@{ changed = $true; data = [ordered]@{ before = $before; version = $after }; steps = $steps }
