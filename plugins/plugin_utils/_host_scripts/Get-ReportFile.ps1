# Reads back one file published earlier to a folder of a file share (the EEMS
# watch's history, kept beside the reports), so a job whose own folder was
# deleted with the last job can compare with it. Reads only. As in
# Publish-ReportFile, the share's account, when one is given, travels as data
# and maps the share for this call only (Mount-ShareDrive). A file that is
# not there is an answer (found = $false), not an error. A file above
# max_bytes is not sent back (its size is). The bytes are read whole
# ([System.IO.File]::ReadAllBytes: Microsoft Learn, File.ReadAllBytes) and
# hashed on the host, so the controller can tell they arrived as read.
# Uses: Get-PropertyValue, Mount-ShareDrive
param($HostArgs)

$share = ([string]$HostArgs.share).TrimEnd('\')
$folder = [string](Get-PropertyValue -InputObject $HostArgs -Name 'folder')
$name = [string]$HostArgs.name
$maxBytes = [long]$HostArgs.max_bytes
$username = Get-PropertyValue -InputObject $HostArgs -Name 'username'
$secret = Get-PropertyValue -InputObject $HostArgs -Name 'password'

$drive = Mount-ShareDrive -Root $share -Username $username -Secret $secret -Prefix 'ExReport'
$found = $false
$size = $null
$sha256 = $null
$content = $null
try {
    $directory = $share
    if ($folder) {
        $directory = Join-Path -Path $share -ChildPath $folder
    }
    $path = Join-Path -Path $directory -ChildPath $name
    if (Test-Path -LiteralPath $path -PathType Leaf) {
        $found = $true
        $size = (Get-Item -LiteralPath $path).Length
        if ($size -le $maxBytes) {
            $bytes = [System.IO.File]::ReadAllBytes($path)
            $content = [System.Convert]::ToBase64String($bytes)
            $sha256 = (Get-FileHash -LiteralPath $path -Algorithm SHA256).Hash.ToLowerInvariant()
        }
    }
}
finally {
    if ($null -ne $drive) {
        Remove-PSDrive -Name $drive.Name -Force
    }
}

@{
    changed = $false
    data = [ordered]@{
        path = $path
        found = $found
        size = $size
        sha256 = $sha256
        content_base64 = $content
    }
}
