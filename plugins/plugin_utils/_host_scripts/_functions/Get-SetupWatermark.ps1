# Uses: Get-PropertyValue
# An interrupted Setup leaves a Watermark (and Action) value under the key
# of the role it was installing; Setup clears it when the role completes.
# Returns the first role found with one, or $null.
function Get-SetupWatermark {
    $root = 'HKLM:\SOFTWARE\Microsoft\ExchangeServer\v15'
    foreach ($role in 'MailboxRole', 'ClientAccessRole', 'UnifiedMessagingRole', 'HubTransportRole', 'FrontendTransportRole', 'CafeRole', 'AdminToolsRole', 'GatewayRole') {
        $values = Get-ItemProperty -Path (Join-Path -Path $root -ChildPath $role) -ErrorAction SilentlyContinue
        $watermark = Get-PropertyValue -InputObject $values -Name 'Watermark'
        if ($null -ne $watermark) {
            return [ordered]@{ role = $role; watermark = [string]$watermark; action = [string](Get-PropertyValue -InputObject $values -Name 'Action') }
        }
    }
    $null
}
