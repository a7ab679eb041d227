# Checks, from the server itself and without changing anything, what the
# later jobs need: the WinRM listeners, whether the account is a local
# administrator, the Exchange Management Shell session, the account's
# Exchange roles for each cmdlet the later jobs run, and whether the server
# reaches the installer repository and the Office Config Service.
# Roles are judged the way Microsoft documents it ("Find the permissions
# required to run any Exchange cmdlet", learn.microsoft.com/powershell/
# exchange/find-exchange-cmdlet-permissions): the roles that hold a cmdlet
# (Get-ManagementRole -Cmdlet) against the roles assigned to the account,
# directly or through its role groups (Get-ManagementRoleAssignment
# -RoleAssignee, regular assignments only: -Delegating $false), so custom
# roles and role groups count exactly as Exchange counts them.
# Management scopes: the same read with -WritableServer (this server) keeps
# only the assignments whose write scope lets them change this server's
# object, "taking into account the roles and scopes associated with each
# role assignment" (Learn, Get-ManagementRoleAssignment, -WritableServer;
# Exchange 2010 to SE). A role held only through a custom or exclusive scope
# that leaves this server out cannot run Set-ExchangeServer and its kind here.
# An Edge Transport server (edge_transport) has no role-based access control:
# it is managed by its local Administrators group, so no role is read there
# (Get-ManagementRole and Get-ManagementRoleAssignment come with the
# organisation's RBAC in Active Directory, which Edge is not part of).
# Uses: Get-IdentityName, Get-PropertyValue, Open-ExchangeSession, Test-EdgeTransportRole
param($HostArgs)

function Test-Endpoint {
    # Any HTTP answer, even 401 or 404, proves the path is open; only a
    # connection, DNS or TLS failure means the server cannot reach it.
    param($Endpoint, $Repository)
    $url = [string](Get-PropertyValue -InputObject $Endpoint -Name 'url')
    $result = [ordered]@{ name = [string](Get-PropertyValue -InputObject $Endpoint -Name 'name'); url = $url; reachable = $false; status_code = $null; error = $null }
    $credential = $null
    $username = Get-PropertyValue -InputObject $Repository -Name 'username'
    $secret = Get-PropertyValue -InputObject $Repository -Name 'password'
    if ((Get-PropertyValue -InputObject $Endpoint -Name 'use_credential') -and $username -and $secret) {
        $password = ConvertTo-SecureString -String ([string]$secret) -AsPlainText -Force
        $credential = New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList ([string]$username), $password
    }
    try {
        if ($url -match '^https?://') {
            # Windows PowerShell 5.1 still offers TLS 1.0 first.
            [Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12
            # The progress bar slows Invoke-WebRequest down by orders of magnitude.
            $ProgressPreference = 'SilentlyContinue'
            $request = @{ Uri = $url; UseBasicParsing = $true; TimeoutSec = 20; ErrorAction = 'Stop' }
            if ($null -ne $credential) {
                $request.Credential = $credential
            }
            $proxy = [string](Get-PropertyValue -InputObject $Endpoint -Name 'proxy')
            if ($proxy) {
                $request.Proxy = $proxy
            }
            $response = Invoke-WebRequest @request
            $result.reachable = $true
            $result.status_code = [int]$response.StatusCode
        }
        elseif ($url -match '^(\\\\[^\\]+\\[^\\]+)') {
            $drive = $null
            if ($null -ne $credential) {
                # The credential is given to the share itself (\\server\share), never to the file.
                $drive = New-PSDrive -Name ('ExPre{0}' -f $PID) -PSProvider FileSystem -Root $Matches[1] -Credential $credential -ErrorAction Stop
            }
            try {
                $result.reachable = [bool](Test-Path -LiteralPath $url)
                if (-not $result.reachable) {
                    $result.error = 'The path {0} cannot be reached from this server.' -f $url
                }
            }
            finally {
                if ($null -ne $drive) {
                    Remove-PSDrive -Name $drive.Name -Force
                }
            }
        }
        else {
            $result.error = 'The address {0} is neither an http(s):// URL nor a \\server\share path.' -f $url
        }
    }
    catch {
        $response = Get-PropertyValue -InputObject $_.Exception -Name 'Response'
        $status = Get-PropertyValue -InputObject $response -Name 'StatusCode'
        if ($null -ne $status) {
            $result.reachable = $true
            $result.status_code = [int]$status
        }
        $result.error = $_.Exception.Message
    }
    $result
}

$identity = [Security.Principal.WindowsIdentity]::GetCurrent()
$principal = New-Object -TypeName Security.Principal.WindowsPrincipal -ArgumentList $identity
$listeners = @()
foreach ($listener in @(Get-WSManInstance -ResourceURI 'winrm/config/listener' -Enumerate -ErrorAction SilentlyContinue)) {
    $listeners += [ordered]@{
        transport = [string](Get-PropertyValue -InputObject $listener -Name 'Transport')
        port = [int](Get-PropertyValue -InputObject $listener -Name 'Port' -Default 0)
        address = [string](Get-PropertyValue -InputObject $listener -Name 'Address')
        enabled = ([string](Get-PropertyValue -InputObject $listener -Name 'Enabled') -eq 'true')
    }
}

# Every argument is optional: read through Get-PropertyValue, since a bare
# read of a missing one throws under Set-StrictMode.
$ems = Get-PropertyValue -InputObject $HostArgs -Name 'ems'
$repository = Get-PropertyValue -InputObject $HostArgs -Name 'repository'
$account = [string](Get-PropertyValue -InputObject $ems -Name 'username')
if (-not $account) {
    $account = $identity.Name
}
$edge = [bool](Test-EdgeTransportRole)
$data = [ordered]@{
    computer_name = $env:COMPUTERNAME
    edge_transport = $edge
    winrm = [ordered]@{ account = $identity.Name; local_admin = $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator); listeners = $listeners }
    ems = [ordered]@{ available = $false; mode = [string](Get-PropertyValue -InputObject $ems -Name 'mode'); error = $null }
    roles = [ordered]@{ account = $account; read = $false; error = $null; assigned = @(); role_groups = @(); cmdlets = @(); writable_here = $null; scope_error = $null }
    endpoints = @()
}

$computer = Get-CimInstance -ClassName Win32_ComputerSystem
$session = $null
try {
    $session = Open-ExchangeSession -Ems $ems -Fqdn ('{0}.{1}' -f $env:COMPUTERNAME, $computer.Domain) -CommandName 'Get-ManagementRole', 'Get-ManagementRoleAssignment'
    $data.ems.available = $true
    try {
        if ($edge) {
            throw 'This is an Edge Transport server: it has no role-based access control; the local Administrators group manages it.'
        }
        $assigned = @()
        $groups = @()
        foreach ($assignment in @(Get-ManagementRoleAssignment -RoleAssignee $account -Delegating $false -Enabled $true -ErrorAction Stop)) {
            $assigned += Get-IdentityName -Value (Get-PropertyValue -InputObject $assignment -Name 'Role')
            if ([string](Get-PropertyValue -InputObject $assignment -Name 'RoleAssigneeType') -eq 'RoleGroup') {
                $groups += Get-IdentityName -Value (Get-PropertyValue -InputObject $assignment -Name 'RoleAssigneeName')
            }
        }
        $data.roles.assigned = @($assigned | Where-Object { $_ } | Sort-Object -Unique)
        $data.roles.role_groups = @($groups | Where-Object { $_ } | Sort-Object -Unique)
        try {
            $writable = @()
            foreach ($assignment in @(Get-ManagementRoleAssignment -RoleAssignee $account -WritableServer $env:COMPUTERNAME -Delegating $false -Enabled $true -ErrorAction Stop)) {
                $writable += Get-IdentityName -Value (Get-PropertyValue -InputObject $assignment -Name 'Role')
            }
            $data.roles.writable_here = @($writable | Where-Object { $_ } | Sort-Object -Unique)
        }
        catch {
            # The roles stand; only whether their scopes include this server is unknown.
            $data.roles.scope_error = $_.Exception.Message
        }
        foreach ($wanted in @(Get-PropertyValue -InputObject $HostArgs -Name 'cmdlets' -Default @())) {
            $name = [string]$wanted
            $holding = @(Get-ManagementRole -Cmdlet $name -ErrorAction Stop | ForEach-Object { Get-IdentityName -Value (Get-PropertyValue -InputObject $_ -Name 'Name') } | Where-Object { $_ } | Sort-Object -Unique)
            $granting = @($holding | Where-Object { $data.roles.assigned -contains $_ })
            $data.roles.cmdlets += [ordered]@{ cmdlet = $name; granted = ($granting.Count -gt 0); granting_roles = $granting; roles_with_cmdlet = $holding }
        }
        $data.roles.read = $true
    }
    catch {
        # Reading roles needs View-Only Configuration or Role Management; without
        # them the answer says why and the controller reports "unknown".
        $data.roles.error = $_.Exception.Message
    }
}
catch {
    $data.ems.error = $_.Exception.Message
}
finally {
    if ($null -ne $session) {
        Remove-PSSession -Session $session
    }
}

foreach ($endpoint in @(Get-PropertyValue -InputObject $HostArgs -Name 'endpoints' -Default @())) {
    if ($null -ne $endpoint) {
        $data.endpoints += Test-Endpoint -Endpoint $endpoint -Repository $repository
    }
}

@{ changed = $false; data = $data }
