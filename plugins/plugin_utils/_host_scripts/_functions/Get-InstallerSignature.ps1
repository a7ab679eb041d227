# The Authenticode status and signer of an installer. A disk image carries
# no signature of its own, so for an ISO (also while still named .partial)
# the Setup.exe inside it is checked.
function Get-InstallerSignature {
    param([string]$Path)
    $target = $Path
    $image = $null
    if ($Path -like '*.iso' -or $Path -like '*.iso.partial') {
        $image = Mount-DiskImage -ImagePath $Path -Access ReadOnly -StorageType ISO -PassThru -ErrorAction Stop
    }
    try {
        if ($null -ne $image) {
            $letter = ($image | Get-Volume).DriveLetter
            $target = '{0}:\Setup.exe' -f $letter
        }
        $signature = Get-AuthenticodeSignature -FilePath $target
        $signer = $null
        if ($null -ne $signature.SignerCertificate) {
            $signer = $signature.SignerCertificate.GetNameInfo([System.Security.Cryptography.X509Certificates.X509NameType]::SimpleName, $false)
        }
        [ordered]@{ status = [string]$signature.Status; signer = $signer; signed_file = $target }
    }
    finally {
        if ($null -ne $image) {
            Dismount-DiskImage -ImagePath $Path | Out-Null
        }
    }
}
