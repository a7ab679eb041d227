# Writes one report file into a folder of a file share, so the report
# outlives the AWX job that wrote it. The controller sends the file's bytes as
# data; this Windows server writes them, because an SMB share is reached from
# Windows. The share's account, when one is given, travels as data and maps
# the share for this call only (Mount-ShareDrive: the second hop). The file
# is written whole
# ([System.IO.File]::WriteAllBytes creates or overwrites it: Microsoft Learn,
# File.WriteAllBytes) and read back for its SHA256, which the controller
# compares with what it sent.
# Uses: Get-PropertyValue, Mount-ShareDrive
param($HostArgs)

$share = ([string]$HostArgs.share).TrimEnd('\')
$folder = [string](Get-PropertyValue -InputObject $HostArgs -Name 'folder')
$name = [string]$HostArgs.name
$bytes = [System.Convert]::FromBase64String([string]$HostArgs.content_base64)
$username = Get-PropertyValue -InputObject $HostArgs -Name 'username'
$secret = Get-PropertyValue -InputObject $HostArgs -Name 'password'
$steps = @()

$drive = Mount-ShareDrive -Root $share -Username $username -Secret $secret -Prefix 'ExReport'
try {
    $directory = $share
    if ($folder) {
        $directory = Join-Path -Path $share -ChildPath $folder
    }
    if (-not (Test-Path -LiteralPath $directory -PathType Container)) {
        New-Item -Path $directory -ItemType Directory -Force -ErrorAction Stop | Out-Null
        $steps += [ordered]@{ name = 'create_folder'; changed = $true; detail = $directory }
    }
    $path = Join-Path -Path $directory -ChildPath $name
    [System.IO.File]::WriteAllBytes($path, $bytes)
    $steps += [ordered]@{ name = 'write'; changed = $true; detail = $path }
    $size = (Get-Item -LiteralPath $path).Length
    $sha256 = (Get-FileHash -LiteralPath $path -Algorithm SHA256).Hash.ToLowerInvariant()
}
finally {
    if ($null -ne $drive) {
        Remove-PSDrive -Name $drive.Name -Force
    }
}

@{
    changed = $true
    data = [ordered]@{
        path = $path
        size = $size
        sha256 = $sha256
    }
    steps = $steps
}
